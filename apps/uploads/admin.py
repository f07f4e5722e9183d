from django.contrib import admin

from apps.uploads.models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "shop",
        "uploaded_by",
        "status",
        "rows_read",
        "rows_loaded",
        "created_at",
    ]
    list_filter = ["status", "shop"]
    search_fields = ["original_name", "sha256"]
    readonly_fields = [f.name for f in Upload._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # uploads come through /uploads/, the API or `manage.py ingest`
