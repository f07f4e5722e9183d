"""Frozen descriptions of the schema contract and of one upload's context."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType


class DataType:
    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    CHOICES = ((STRING, "Text"), (INTEGER, "Whole number"), (DECIMAL, "Decimal"), (DATETIME, "Date/time"))


def normalise_header(text: str) -> str:
    """`Invoice No.`, `INVOICE_NO` and `invoiceno` all become `invoiceno`."""
    return re.sub(r"[^0-9a-z]", "", text.strip().lower())


@dataclass(frozen=True)
class FieldSpec:
    name: str
    data_type: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    # Constraints the admin sets; each broken one is a rejection with its own reason.
    allowed_values: tuple[str, ...] = ()
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    pattern: str = ""

    @cached_property
    def header_keys(self) -> frozenset[str]:
        """The name and aliases, normalised once (header finding asks for every cell it peeks)."""
        return frozenset(k for k in map(normalise_header, (self.name, *self.aliases)) if k)

    def matches(self, header: str) -> bool:
        return normalise_header(header) in self.header_keys


@dataclass(frozen=True)
class SchemaSpec:
    """The admin's schema contract, frozen for one run of the pipeline."""

    version: int
    fields: tuple[FieldSpec, ...]
    # Upper-cased alias (and ISO code) -> ISO 3166 alpha-2 code.
    country_aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_bad_row_pct: float = 100.0

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def header_score(self, cells: list[str]) -> int:
        """How many of the schema's fields a row of cells names: finds header rows and sheets."""
        keys = {normalise_header(str(c)) for c in cells}
        return sum(1 for f in self.fields if not f.header_keys.isdisjoint(keys))


@dataclass(frozen=True)
class UploadContext:
    """What the pipeline knows about the upload besides its bytes."""

    upload_id: str
    store_id: str
    country_code: str
    currency: str
    date_order: str  # "MDY" or "DMY": the shop's region's usual order, or the one chosen for the upload
    reporting_currency: str
    # (currency, first day of month, rate to the reporting currency); latest at or before wins.
    fx_rates: tuple[tuple[str, date, Decimal], ...] = ()
    date_order_chosen: bool = False  # date_order is the user's choice for this upload
    # The shop's own readings of country values (upper-cased value -> ISO code), before the
    # global aliases: `UNSPECIFIED` -> the shop's country.
    country_mappings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def with_shop_countries(spec: SchemaSpec, ctx: UploadContext) -> SchemaSpec:
    """The spec whose country aliases are the global ones overridden by the shop's mappings:
    what validate looks countries up in, and the codes the fact file's ENUM holds."""
    if not ctx.country_mappings:
        return spec
    return replace(spec, country_aliases=MappingProxyType({**spec.country_aliases, **ctx.country_mappings}))
