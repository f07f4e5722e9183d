from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.operations import upload_delete_rows, upload_reprocess
from apps.warehouse.services import warehouse_sync


class UploadEventInline(admin.TabularInline):
    """The upload's history, read-only: the audit trail is written by the app alone."""

    model = UploadEvent
    fields = ["at", "kind", "actor", "detail"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


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
        "replaces",
        "created_at",
    ]
    list_filter = ["status", "shop"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = [f.name for f in Upload._meta.fields]
    inlines = [UploadEventInline]
    actions = ["reprocess", "delete_rows"]

    def has_add_permission(self, request) -> bool:
        return False  # uploads come through /uploads/, the API or `manage.py ingest`

    @admin.action(description="Reprocess the selected uploads (their rows are replaced)", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset) -> None:
        for upload in queryset:
            upload_reprocess(upload_id=upload.id)
            # Actions are not in the admin log unless logged: who did what stays on record.
            self.log_change(request, upload, "Reprocessed (its rows are replaced).")
        self.message_user(request, f"{queryset.count()} upload(s) queued to be processed again.")

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
        return [path("warehouse-sync/", sync, name="uploads_upload_warehouse_sync"), *super().get_urls()]

    def warehouse_sync_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not request.user.is_superuser:
            raise PermissionDenied
        changes = warehouse_sync()
        text = "warehouse_sync: " + ("; ".join(changes) if changes else "the warehouse is up to date.")
        self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:uploads_upload_changelist"))
