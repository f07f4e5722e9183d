"""Who took which data out, when, and within which scope. Admin changes are in Django's
own admin log (LogEntry); what happens to an upload is in its UploadEvents."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        REPORT_EXPORT = "report_export", "Report exported"
        RAW_DOWNLOAD = "raw_download", "Raw file downloaded"
        REJECTED_DOWNLOAD = "rejected_download", "Rejected rows downloaded"
        API_REJECTED_DOWNLOAD = "api_rejected_download", "Rejected rows downloaded (API)"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    # Kept as text too: the record outlives the user account.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    target = models.CharField(max_length=255, help_text="The export (dataset.format) or the upload id.")
    scope = models.JSONField(default=dict, encoder=DjangoJSONEncoder, help_text="The viewer's role and scope.")
    detail = models.JSONField(default=dict, encoder=DjangoJSONEncoder, help_text="Filters, format, file name.")
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.get_action_display()} {self.target}"
