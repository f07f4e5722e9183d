"""Who may see what: regions (one country each), shops, and each user's role."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

country_code_validator = RegexValidator(r"^[A-Z]{2}$", "Use an ISO 3166 alpha-2 code, e.g. GB.")
currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use an ISO 4217 code, e.g. GBP.")
view_name_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]{0,63}$", "Letters, digits and underscores, starting with a letter."
)


class Region(models.Model):
    class DateOrder(models.TextChoices):
        MONTH_FIRST = "MDY", "Month first (4/19/2011)"
        DAY_FIRST = "DMY", "Day first (19/4/2011)"

    name = models.CharField(max_length=64, unique=True)
    country_code = models.CharField(max_length=2, unique=True, validators=[country_code_validator])
    currency = models.CharField(max_length=3, validators=[currency_validator])
    date_order = models.CharField(max_length=3, choices=DateOrder.choices)
    view_name = models.CharField(
        max_length=64,
        unique=True,
        validators=[view_name_validator],
        help_text="Name of this country's view in the warehouse, e.g. UK_Sales_View.",
    )
    # BigQuery's row access policy for this region is granted to this group (warehouse_sync
    # --row-access): its members read the region's rows in Looker Studio, as the app's head does.
    looker_group = models.EmailField(
        blank=True,
        help_text="Google group of this region's Looker Studio viewers, e.g. uk-sales-heads@example.com: "
        "BigQuery shows them the rows the region's head sees in the app (warehouse_sync --row-access). "
        "Empty: no policy for this region (its rows are read in BigQuery only by the app's service account "
        "and BIGQUERY_ALL_ROWS_MEMBERS).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Shop(models.Model):
    code = models.CharField(
        max_length=32,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9-]{1,31}$", "Upper-case letters, digits, -")],
    )
    name = models.CharField(max_length=128)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="shops")
    expected_upload_every_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="How often this shop should upload, in days; the reports list shops that are late. "
        "Leave empty for no expectation.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Profile(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        REGIONAL_HEAD = "regional_head", "Regional head"
        SHOP_MANAGER = "shop_manager", "Shop manager"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    regions = models.ManyToManyField(Region, blank=True, related_name="heads")
    shops = models.ManyToManyField(Shop, blank=True, related_name="managers")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display() or 'no role'})"
