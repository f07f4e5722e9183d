from django.contrib import admin

from apps.uploads.models import Upload, UploadEvent


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

    def has_add_permission(self, request) -> bool:
        return False  # uploads come through /uploads/, the API or `manage.py ingest`
