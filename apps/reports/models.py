"""Looker Studio reports the admin embeds beside the in-app charts (globally or per region)."""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from apps.accounts.models import Region

# The only hosts a report may be framed from; the report page's CSP frame-src names the one used.
LOOKER_HOSTS = ("lookerstudio.google.com", "datastudio.google.com")
_PARAMETER = r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?"


def looker_url_is_valid(value: str) -> bool:
    """An https embed URL whose authority is exactly a Looker Studio host: no user info, no
    port. Browsers read a backslash as a slash (https://evil.com\\@host/ is evil.com to them,
    while Python's parser sees host), so a backslash, a space or a control character
    anywhere is refused outright."""
    if "\\" in value or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme == "https" and parts.netloc in LOOKER_HOSTS and parts.path.startswith("/embed/")


def validate_looker_url(value: str) -> None:
    if not looker_url_is_valid(value):
        raise ValidationError(
            "Use the report's embed URL: File > Embed report > Embed URL, "
            "e.g. https://lookerstudio.google.com/embed/reporting/<report-id>/page/<page-id> "
            "(https, the host exactly lookerstudio.google.com or datastudio.google.com, no port or user name)."
        )


def validate_parameter(value: str) -> None:
    if value and not re.fullmatch(_PARAMETER, value):
        raise ValidationError("A Looker Studio parameter name, such as ds0.country.")


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
        validators=[validate_parameter],
        help_text="The report parameter that receives the viewer's country code(s), e.g. ds0.country "
        "(a data source parameter that allows modification in reports). Empty: nothing is passed.",
    )
    shop_parameter = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_parameter],
        help_text="The report parameter that receives a shop manager's shop code(s), e.g. ds0.store. "
        "Empty: the report cannot be limited to a shop, and shop managers are not shown it. "
        "Parameters only pre-filter what the viewer sees: the data source's own permissions "
        "(BigQuery row access policies) decide what it may show.",
    )

    class Meta:
        verbose_name = "Looker Studio report"

    def __str__(self) -> str:
        return f"Looker Studio report ({self.region or 'global'})"

    def clean(self) -> None:
        others = LookerStudioReport.objects.exclude(pk=self.pk)
        if self.region is None and others.filter(region__isnull=True).exists():
            raise ValidationError("There is already a global report; edit that one.")
