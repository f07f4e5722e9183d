"""One uploaded file and the life of its ETL run."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Region, Shop
from apps.warehouse.base import DateSpan


class Upload(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        LOADED = "loaded", "Done"
        LOADED_WITH_ERRORS = "loaded_with_errors", "Done, with rejected rows"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        # Its headers left a required field unmatched: the shop matches them on the mapping step.
        NEEDS_MAPPING = "needs_mapping", "Columns to match"
        # Same content as an earlier upload of the shop: held until the user replaces or cancels.
        DUPLICATE = "duplicate", "Same file uploaded before"
        # Unlike the shop's recent uploads (plausibility.py): held until the user confirms or cancels.
        IMPLAUSIBLE = "implausible", "Unlike the shop's usual uploads"
        CANCELLED = "cancelled", "Cancelled"
        # Some of its lines are loaded already from other uploads of the shop: held, nothing of
        # it loaded, until the uploader chooses (OverlapChoice).
        OVERLAP = "overlap", "Lines loaded before"

    class OverlapChoice(models.TextChoices):
        NEW_ONLY = "new_only", "Load only the new lines"
        REPLACE = "replace", "Replace those uploads' overlapping lines with this file's"
        ALL = "all", "Load everything anyway"
        CANCEL = "cancel", "Cancel"

    FINISHED = (
        Status.LOADED,
        Status.LOADED_WITH_ERRORS,
        Status.REJECTED,
        Status.FAILED,
        Status.NEEDS_MAPPING,
        Status.IMPLAUSIBLE,
        Status.CANCELLED,
        Status.OVERLAP,
    )
    # Held for the user's choice: nothing of it is in the warehouse until they decide.
    AWAITING_CHOICE = (Status.DUPLICATE, Status.IMPLAUSIBLE, Status.OVERLAP)
    # Ended with its rows in the warehouse: what a replacement or a duplicate refers to.
    IN_WAREHOUSE = (Status.LOADED, Status.LOADED_WITH_ERRORS)
    # Waiting for a worker or running: a replacement in these is its upload's pending one.
    PENDING = (Status.QUEUED, Status.PROCESSING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    shop = models.ForeignKey(Shop, on_delete=models.PROTECT, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="uploads"
    )
    original_name = models.CharField(max_length=255, help_text="The file name as the user gave it.")
    raw_path = models.CharField(max_length=512, help_text="Where the raw file is kept in storage.")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, db_index=True)
    content_current = models.BooleanField(
        default=False,
        help_text="The shop's current upload of this content: later uploads of the same bytes are held as its "
        "duplicates. At most one per shop and content (a unique constraint decides between parallel uploads).",
    )
    schema_version = models.PositiveIntegerField(null=True, blank=True)

    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=32, blank=True, help_text="What the worker is doing now.")
    message = models.TextField(blank=True, help_text="Why it failed or was rejected, for the user.")
    rows_read = models.PositiveIntegerField(null=True, blank=True)
    rows_loaded = models.PositiveIntegerField(null=True, blank=True)
    rows_rejected = models.PositiveIntegerField(null=True, blank=True)
    rows_dropped = models.PositiveIntegerField(null=True, blank=True, help_text="Duplicates dropped.")
    rows_totals = models.PositiveIntegerField(
        null=True, blank=True, help_text="Totals rows dropped (a spreadsheet's sum of a column, a 'Total' line)."
    )
    rows_processed = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rows through the current stage, for the progress bar."
    )
    stage_progress = models.FloatField(
        null=True, blank=True, help_text="How far the current stage is (0-1), as the engine estimates it."
    )
    warehouse_rows = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Set when the reconciliation found the warehouse holding another number of this upload's rows "
        "than it loaded (the number it found); empty while they agree.",
    )
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replacements",
        help_text="The upload whose rows this one replaces in the warehouse once it is loaded.",
    )
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The earlier upload of the same content for the same shop, when there was one.",
    )
    overlap_choice = models.CharField(
        max_length=12,
        blank=True,
        choices=OverlapChoice.choices,
        help_text="What its runs do with lines the shop has loaded from other uploads; empty: hold it and ask.",
    )
    report = models.JSONField(default=dict, blank=True, help_text="Mapping, date order, first errors.")
    sheet = models.CharField(
        max_length=255, blank=True, help_text="The workbook sheet the user chose; empty: found by its header row."
    )
    date_order = models.CharField(
        max_length=3,
        blank=True,
        choices=Region.DateOrder.choices,
        help_text="The order the user chose for dates that read both ways; empty: the region's usual one.",
    )

    summary = models.JSONField(
        default=dict,
        blank=True,
        help_text="Its clean rows' figures (lines, sales, orders, median price, dates, currencies): what the "
        "plausibility check compares the shop's next uploads with.",
    )
    first_order_date = models.DateField(
        null=True,
        blank=True,
        db_index=True,
        help_text="The first order day of its rows in the warehouse (kept at load time): what a warehouse "
        "statement on its rows is bounded by, and where its coverage starts.",
    )
    last_order_date = models.DateField(
        null=True, blank=True, db_index=True, help_text="The last order day of its rows in the warehouse."
    )
    plausibility_accepted = models.BooleanField(
        default=False,
        help_text="Load it even if it is unlike the shop's usual uploads (confirmed by the uploader, or "
        "`ingest --accept-implausible`): its runs skip holding it.",
    )

    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(
        max_length=64, blank=True, default="", help_text="Id of the task whose run claimed the upload last."
    )
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of the run processing it (every UPLOAD_HEARTBEAT_EVERY seconds): a run "
        "silent for UPLOAD_HEARTBEAT_STALE seconds died, and the sweep queues the upload again.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Parallel uploads of one file for one shop: one claims the content, the others are
            # refused by the database and held as its duplicates (transitions.upload_insert).
            models.UniqueConstraint(
                fields=["shop", "sha256"], condition=Q(content_current=True), name="uploads_one_current_per_content"
            ),
            # Parallel replacements of one upload: one is queued, the others are refused.
            models.UniqueConstraint(
                fields=["replaces"],
                condition=Q(replaces__isnull=False, status__in=["queued", "processing"]),
                name="uploads_one_pending_replacement",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.shop_id}, {self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def awaits_choice(self) -> bool:
        return self.status in self.AWAITING_CHOICE

    @property
    def awaits_overlap_choice(self) -> bool:
        return self.status == self.Status.OVERLAP

    @property
    def warehouse_mismatch(self) -> bool:
        return self.warehouse_rows is not None

    @property
    def warehouse_span(self) -> DateSpan | None:
        """The order days of its rows in the warehouse, which bound a statement on them
        (None: unknown, as for rows loaded before spans were kept)."""
        if self.first_order_date is None or self.last_order_date is None:
            return None
        return DateSpan(self.first_order_date, self.last_order_date)


class UploadEvent(models.Model):
    """One line of an upload's history: who did what to it, and when (the audit trail)."""

    class Kind(models.TextChoices):
        CREATED = "created", "Uploaded"
        DUPLICATE = "duplicate", "Held as a duplicate"
        IMPLAUSIBLE = "implausible", "Held as unlike the shop's usual uploads"
        CONFIRMED = "confirmed", "Confirmed to load although unlike the shop's usual uploads"
        REPLACE = "replace", "Chosen to replace an earlier upload"
        CANCELLED = "cancelled", "Cancelled"
        REQUEUED = "requeued", "Queued again by the sweep"
        FINISHED = "finished", "Processing ended"
        REPLACED = "replaced", "Replaced by a later upload"
        NOTIFIED = "notified", "Uploader emailed"
        RAW_DOWNLOADED = "raw_downloaded", "Raw file downloaded"
        SHEET_CHOSEN = "sheet_chosen", "Sheet chosen, processed again"
        DATES_CHOSEN = "dates_chosen", "Date order chosen, processed again"
        MAPPING_CONFIRMED = "mapping_confirmed", "Columns matched, processed again"
        MISMATCH = "mismatch", "Warehouse rows differ from the upload's count"
        RECONCILED = "reconciled", "Warehouse rows agree again"
        COUNTRY_MAPPED = "country_mapped", "Country value mapped for the shop, processed again"
        ALIAS_REQUESTED = "alias_requested", "Country alias requested"
        ALIAS_APPROVED = "alias_approved", "Country alias approved, processed again"
        ALIAS_DECLINED = "alias_declined", "Country alias declined"
        OVERLAP = "overlap", "Held: lines loaded before"
        OVERLAP_CHOSEN = "overlap_chosen", "Chosen what to do with lines loaded before"
        DISPLACED = "displaced", "Lines replaced by a later upload's"

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


class CountryAliasRequest(models.Model):
    """A manager's request that an admin add a global country alias (`Channel Islands` ->
    GB) for a value their upload's rows were rejected for; approved, the alias is added and
    the upload processed again (its rows replace its batch)."""

    class Decision(models.TextChoices):
        PENDING = "pending", "Waiting for an admin"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="alias_requests")
    value = models.CharField(max_length=64, help_text="The country value as the file writes it (upper-cased).")
    country_code = models.CharField(max_length=2, help_text="The country the manager proposes.")
    decision = models.CharField(max_length=12, choices=Decision.choices, default=Decision.PENDING, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "value"], condition=Q(decision="pending"), name="one_pending_alias_request"
            )
        ]

    def __str__(self) -> str:
        return f"{self.value} -> {self.country_code} ({self.get_decision_display()})"


class UploadDay(models.Model):
    """The lines an upload holds in the warehouse on one order day, per customer country and
    shop (store_id, the row's; usually the upload's shop): kept at load time, so that the
    report pages know the days with data, the newest day, each upload's span and the
    coverage of any scope and view from the app database, without a warehouse query."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="days")
    order_date = models.DateField()
    country_code = models.CharField(max_length=2, blank=True, default="")
    store_id = models.CharField(max_length=64, blank=True, default="")
    lines = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["order_date"], name="uploadday_order_date"),
            models.Index(fields=["store_id", "order_date"], name="uploadday_store_date"),
            models.Index(fields=["country_code", "order_date"], name="uploadday_country_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["upload", "order_date", "country_code", "store_id"], name="uploadday_one_row_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.upload_id} {self.order_date} {self.country_code} {self.store_id}: {self.lines}"
