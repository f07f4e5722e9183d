"""What the API takes and gives; the shapes also make the OpenAPI schema."""

from rest_framework import serializers

from apps.uploads.models import Upload


class UploadCreateSerializer(serializers.Serializer):
    shop = serializers.CharField(help_text="Shop code, e.g. US-NYC: one you may upload for.")
    file = serializers.FileField(help_text="CSV, TSV, XLSX or XLS, sent as multipart/form-data.")
    replaces = serializers.UUIDField(required=False, help_text="Id of an upload this corrected file replaces.")
    on_duplicate = serializers.ChoiceField(
        choices=["ask", "replace", "cancel"],
        default="ask",
        help_text="Same content as a current upload of the shop: hold it for a choice (ask), replace that "
        "upload, or refuse it (cancel, 409).",
    )
    accept_implausible = serializers.BooleanField(
        default=False,
        help_text="Load it even if it is unlike the shop's usual uploads (otherwise such an upload is held with "
        "status implausible until confirmed or cancelled).",
    )
    on_overlap = serializers.ChoiceField(
        choices=["ask", *Upload.OverlapChoice.values],
        default="ask",
        help_text="Lines the shop has loaded already from other uploads: hold it with status overlap for a choice "
        "(ask), load only the new lines (new_only), replace those uploads' overlapping lines (replace), load "
        "everything anyway (all), or cancel it.",
    )


class DecisionSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(choices=["replace", "cancel"])


class PlausibilitySerializer(serializers.Serializer):
    choice = serializers.ChoiceField(
        choices=["confirm", "cancel"], help_text="confirm: load the held upload anyway; cancel: load nothing."
    )


class OverlapDecisionSerializer(serializers.Serializer):
    choice = serializers.ChoiceField(
        choices=Upload.OverlapChoice.values,
        help_text="new_only: load only the new lines; replace: this file's lines replace those uploads' overlapping "
        "lines; all: load everything anyway; cancel.",
    )


class SheetSerializer(serializers.Serializer):
    sheet = serializers.CharField(help_text="The workbook sheet to read; one of the upload's `sheets`.")


class UploadStatusSerializer(serializers.Serializer):
    """upload_status() plus who, what and where, and the links a client follows."""

    id = serializers.UUIDField()
    file = serializers.CharField()
    shop = serializers.CharField()
    uploaded_by = serializers.CharField(allow_null=True)
    size_bytes = serializers.IntegerField()
    sha256 = serializers.CharField()
    status = serializers.ChoiceField(choices=Upload.Status.choices)
    status_label = serializers.CharField()
    stage = serializers.CharField()
    finished = serializers.BooleanField()
    awaits_choice = serializers.BooleanField()
    message = serializers.CharField()
    rows_read = serializers.IntegerField(allow_null=True)
    rows_loaded = serializers.IntegerField(allow_null=True)
    rows_rejected = serializers.IntegerField(allow_null=True)
    rows_dropped = serializers.IntegerField(allow_null=True)
    rows_totals = serializers.IntegerField(allow_null=True, help_text="Totals rows dropped (not rejected).")
    rows_processed = serializers.IntegerField(allow_null=True)
    progress_stage = serializers.CharField(
        help_text="queued, reading, validating, loading, done (in the warehouse), "
        "or stopped (failed, rejected, cancelled)"
    )
    progress = serializers.FloatField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    timings = serializers.DictField(child=serializers.FloatField())
    replaces = serializers.UUIDField(allow_null=True)
    replaced_by = serializers.UUIDField(
        allow_null=True,
        help_text="The loaded upload that took this one's place: its rows left the warehouse then (rows_loaded "
        "is what it loaded), so totals over uploads count only those whose replaced_by is null.",
    )
    duplicate_of = serializers.UUIDField(allow_null=True)
    errors_by_reason = serializers.DictField(child=serializers.IntegerField())
    sheet = serializers.CharField(allow_null=True, help_text="The workbook sheet read, if any.")
    sheets = serializers.ListField(child=serializers.CharField(), help_text="The workbook's sheets (none for CSV).")
    plausibility = serializers.DictField(
        allow_null=True,
        help_text="The upload beside its shop's recent uploads: held (bool), reasons (sentences), checks (each "
        "figure's value, usual, ratio and limit), history (the uploads compared). Null before a run compared it.",
    )
    status_url = serializers.URLField()
    page_url = serializers.URLField()
    rejected_csv_url = serializers.URLField(allow_null=True)
    overlap = serializers.DictField(
        allow_null=True,
        help_text="Lines loaded before from other uploads of the shop (status overlap holds it): lines, uploads "
        "(id, name, uploaded_at, uploaded_by, lines), other_shops (shop, lines: the same keys elsewhere, shown "
        "only), choice; null when the check has not run.",
    )
