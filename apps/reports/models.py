"""Looker Studio reports the admin embeds beside the in-app charts (globally or per region)."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from apps.accounts.models import Region

# The only hosts a report may be framed from; the report page's CSP frame-src names the one used.
LOOKER_HOSTS = ("lookerstudio.google.com", "datastudio.google.com")


def validate_looker_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme != "https" or parts.hostname not in LOOKER_HOSTS or not parts.path.startswith("/embed/"):
        raise ValidationError(
            "Use the report's embed URL: File > Embed report > Embed URL, "
            "e.g. https://lookerstudio.google.com/embed/reporting/<report-id>/page/<page-id>."
        )


class LookerStudioReport(models.Model):
    region = models.OneToOneField(
        Region,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="looker_report",
        help_text="Leave empty for the global report, shown where a region has none of its own.",
    )
    embed_url = models.URLField(max_length=500, validators=[validate_looker_url])
    region_parameter = models.CharField(
        max_length=64,
        blank=True,
        help_text="The report parameter that receives the viewer's country code(s), e.g. ds0.country "
        "(a data source parameter that allows modification in reports). Empty: nothing is passed.",
    )

    class Meta:
        verbose_name = "Looker Studio report"

    def __str__(self) -> str:
        return f"Looker Studio report ({self.region or 'global'})"

    def clean(self) -> None:
        others = LookerStudioReport.objects.exclude(pk=self.pk)
        if self.region is None and others.filter(region__isnull=True).exists():
            raise ValidationError("There is already a global report; edit that one.")
