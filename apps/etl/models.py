"""The schema contract the admin manages, country aliases, and FX rates."""

import re

import duckdb
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.accounts.models import country_code_validator, currency_validator
from apps.etl.pipeline.spec import DataType


class SalesSchema(models.Model):
    name = models.CharField(max_length=64, default="sales")
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=False)
    max_bad_row_pct = models.FloatField(
        default=100.0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Reject the whole file when more than this % of its rows are bad.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_active", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True), name="one_active_schema")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}{' (active)' if self.is_active else ''}"


class SchemaField(models.Model):
    schema = models.ForeignKey(SalesSchema, on_delete=models.CASCADE, related_name="fields")
    name = models.SlugField(max_length=64, help_text="Canonical field name, e.g. order_id.")
    data_type = models.CharField(max_length=16, choices=DataType.CHOICES, default=DataType.STRING)
    required = models.BooleanField(default=False)
    aliases = models.TextField(
        blank=True, help_text="Headers that mean this field, one per line (case and spaces ignored)."
    )
    allowed_values = models.TextField(
        blank=True, help_text="If set, the only values accepted, one per line (case ignored)."
    )
    min_value = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Lowest value accepted: the number itself, a date's year, or a text's length.",
    )
    max_value = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Highest value accepted: the number itself, a date's year, or a text's length.",
    )
    pattern = models.CharField(
        max_length=200,
        blank=True,
        help_text="If set, a regular expression the whole value must match, e.g. [A-Z0-9]{5,7}.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["schema", "name"], name="unique_field_per_schema")]

    def __str__(self) -> str:
        return self.name

    @property
    def alias_list(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.aliases.splitlines() if a.strip())

    @property
    def allowed_list(self) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.allowed_values.splitlines() if v.strip())

    def clean(self) -> None:
        if self.pattern:
            # The pipeline runs it in DuckDB (RE2 syntax: no look-arounds or back-references).
            try:
                re.compile(self.pattern)
                duckdb.execute("SELECT regexp_full_match('', $p)", {"p": self.pattern}).fetchall()
            except (re.error, duckdb.Error) as exc:
                raise ValidationError({"pattern": f"Not a valid regular expression: {exc}"}) from exc
        if self.min_value is not None and self.max_value is not None and self.min_value > self.max_value:
            raise ValidationError({"max_value": "The maximum is below the minimum."})


class CountryAlias(models.Model):
    alias = models.CharField(max_length=64, unique=True, help_text="As written in files, e.g. EIRE.")
    country_code = models.CharField(max_length=2, validators=[country_code_validator])

    class Meta:
        ordering = ["country_code", "alias"]
        verbose_name_plural = "country aliases"

    def __str__(self) -> str:
        return f"{self.alias} -> {self.country_code}"

    def clean(self) -> None:
        self.alias = self.alias.strip().upper()


class FxRate(models.Model):
    currency = models.CharField(max_length=3, validators=[currency_validator])
    quote_currency = models.CharField(
        max_length=3, validators=[currency_validator], help_text="The reporting currency."
    )
    month = models.DateField(
        help_text=(
            "First day of the month from which this rate applies. A rate holds until a later month's "
            "rate is entered: an order uses the latest rate at or before its month (as of), and an "
            "order older than every rate of its currency stops the upload with a message."
        )
    )
    rate = models.DecimalField(
        max_digits=18, decimal_places=8, help_text="Units of the reporting currency for one unit."
    )

    class Meta:
        ordering = ["currency", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "quote_currency", "month"], name="one_rate_per_month")
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {self.quote_currency} from {self.month:%Y-%m}"

    def clean(self) -> None:
        if self.month:
            self.month = self.month.replace(day=1)


class ColumnMapping(models.Model):
    """A shop's confirmed mapping for one header layout, applied by itself next time."""

    shop = models.ForeignKey("accounts.Shop", on_delete=models.CASCADE, related_name="column_mappings")
    layout_hash = models.CharField(max_length=64, help_text="SHA-256 of the normalised header layout.")
    columns = models.JSONField(default=list, help_text="The file's columns, as the shop's file names them.")
    mapping = models.JSONField(default=dict, help_text="Canonical field -> the file's column.")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shop", "layout_hash"], name="one_mapping_per_layout")]

    def __str__(self) -> str:
        return f"{self.shop_id}: {', '.join(f'{c} -> {f}' for f, c in self.mapping.items())}"


class ShopCountryMapping(models.Model):
    """A shop's own reading of a country value its files use (`Unspecified` is the shop's
    own country; `Channel Islands` is GB for this shop): it applies to this shop's files only,
    before the global aliases."""

    shop = models.ForeignKey("accounts.Shop", on_delete=models.CASCADE, related_name="country_mappings")
    value = models.CharField(max_length=64, help_text="As written in the shop's files (case and spacing ignored).")
    country_code = models.CharField(max_length=2, validators=[country_code_validator])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["shop", "value"]
        constraints = [models.UniqueConstraint(fields=["shop", "value"], name="one_country_mapping_per_shop_value")]

    def __str__(self) -> str:
        return f"{self.shop_id}: {self.value} -> {self.country_code}"
