from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.access import scope_for
from apps.etl.models import SalesSchema
from apps.etl.schemas import warehouse_sync_with_schema
from apps.uploads.country_fixes import alias_request_approve, alias_request_decline
from apps.uploads.models import CountryAliasRequest, Upload, UploadEvent
from apps.uploads.preview import preview_sentence, schema_preview
from apps.uploads.services import upload_delete_rows, upload_reprocess


class UploadEventInline(admin.TabularInline):
    """The upload's history, read-only: the audit trail is written by the app alone."""

    model = UploadEvent
    fields = ["at", "kind", "actor", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class WarehouseRowsFilter(admin.SimpleListFilter):
    title = "warehouse rows"
    parameter_name = "warehouse"

    def lookups(self, request, model_admin):
        return [("mismatch", "Differ from the upload's count"), ("agree", "Agree")]

    def queryset(self, request, queryset):
        if self.value() == "mismatch":
            return queryset.filter(warehouse_rows__isnull=False)
        if self.value() == "agree":
            return queryset.filter(warehouse_rows__isnull=True)
        return queryset


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "shop",
        "uploaded_by",
        "status",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "warehouse_agrees",
        "replaces",
        "created_at",
    ]
    list_filter = ["status", WarehouseRowsFilter, "shop"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = [f.name for f in Upload._meta.fields]
    inlines = [UploadEventInline]
    actions = ["reprocess", "delete_rows"]

    def has_add_permission(self, request) -> bool:
        return False  # uploads come through /uploads/, the API or `manage.py ingest`

    @admin.display(boolean=True, description="Warehouse rows agree")
    def warehouse_agrees(self, upload: Upload) -> bool:
        """False once the reconciliation found the warehouse holding another number of its
        rows (its history says how many); `manage.py warehouse_reconcile --repair`."""
        return not upload.warehouse_mismatch

    @admin.action(description="Reprocess the selected uploads (their rows are replaced)", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset) -> None:
        queued = 0
        for upload in queryset:
            try:
                upload_reprocess(upload_id=upload.id)
            except ValidationError as exc:  # another replacement of the same upload is running
                self.message_user(request, f"{upload.original_name}: {' '.join(exc.messages)}", messages.WARNING)
                continue
            # Actions are not in the admin log unless logged: who did what stays on record.
            self.log_change(request, upload, "Reprocessed (its rows are replaced).")
            queued += 1
        self.message_user(request, f"{queued} upload(s) queued to be processed again.")

    @admin.action(description="Delete the selected uploads' rows from the warehouse", permissions=["change"])
    def delete_rows(self, request: HttpRequest, queryset) -> None:
        removed = 0
        for upload in queryset:
            count = upload_delete_rows(upload_id=upload.id)
            self.log_change(request, upload, f"Deleted its {count} row(s) from the warehouse.")
            removed += count
        self.message_user(request, f"Removed {removed} row(s) of {queryset.count()} upload(s) from the warehouse.")

    def get_urls(self):
        sync = self.admin_site.admin_view(require_POST(self.warehouse_sync_view))
        preview = self.admin_site.admin_view(require_GET(self.schema_preview_view))
        return [
            path("warehouse-sync/", sync, name="uploads_upload_warehouse_sync"),
            path("schema-preview/", preview, name="uploads_schema_preview"),
            *super().get_urls(),
        ]

    def schema_preview_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """The sales schema admin's preview action: what each chosen schema would reject of
        the last uploads, as messages on the schemas' list."""
        if not request.user.has_perm("etl.view_salesschema"):
            raise PermissionDenied
        ids = [int(i) for i in request.GET.get("schemas", "").split(",") if i.isdigit()]
        last = min(int(request.GET["last"]), 100) if request.GET.get("last", "").isdigit() else 10
        for schema in SalesSchema.objects.filter(pk__in=ids):
            for line in schema_preview(schema=schema, last=last):
                self.message_user(request, preview_sentence(schema, line), messages.INFO)
        return HttpResponseRedirect(reverse("admin:etl_salesschema_changelist"))

    def warehouse_sync_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not request.user.is_superuser:
            raise PermissionDenied
        changes = warehouse_sync_with_schema()
        text = "warehouse_sync: " + ("; ".join(changes) if changes else "the warehouse is up to date.")
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:uploads_upload_changelist"))


@admin.register(CountryAliasRequest)
class CountryAliasRequestAdmin(admin.ModelAdmin):
    """Managers' requests for a global country alias. The pending ones also show on /uploads/
    with one-click Approve and Decline buttons; here, the same for several at once."""

    list_display = ["value", "country_code", "decision", "upload", "requested_by", "requested_at", "decided_by"]
    list_filter = ["decision", "country_code"]
    search_fields = ["value"]
    readonly_fields = [f.name for f in CountryAliasRequest._meta.fields]
    actions = ["approve", "decline"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Approve: add the alias for every shop and process the uploads again")
    def approve(self, request: HttpRequest, queryset) -> None:
        scope = scope_for(request.user)
        for pk in queryset.filter(decision=CountryAliasRequest.Decision.PENDING).values_list("pk", flat=True):
            try:
                said = alias_request_approve(scope=scope, user=request.user, request_id=pk)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, " ".join(said))

    @admin.action(description="Decline")
    def decline(self, request: HttpRequest, queryset) -> None:
        scope = scope_for(request.user)
        for pk in queryset.filter(decision=CountryAliasRequest.Decision.PENDING).values_list("pk", flat=True):
            try:
                alias_request_decline(scope=scope, user=request.user, request_id=pk)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
