"""Country values a file uses that no alias names: a shop's own mapping of a value (for its
files only), the global alias an admin adds, and the choices the upload's page offers."""

from types import MappingProxyType

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.accounts.models import Shop, country_code_validator
from apps.etl.countries import COUNTRY_ALIASES
from apps.etl.models import CountryAlias, ShopCountryMapping

# Values that name no country: the shop's own country is the likely reading.
PLACEHOLDERS = frozenset(
    {"UNSPECIFIED", "NOT SPECIFIED", "UNKNOWN", "N/A", "NA", "NONE", "NULL", "-", "--", "?", "OTHER", "TBC"}
)


def country_value_key(value: str) -> str:
    """A value as the pipeline looks it up: trimmed, inner white space one space, upper case."""
    return " ".join(str(value).split()).upper()


def is_placeholder(value: str) -> bool:
    return country_value_key(value) in PLACEHOLDERS


def shop_country_mappings(*, shop_id: int) -> MappingProxyType:
    """The shop's mappings (value key -> code), frozen for one run (UploadContext)."""
    rows = ShopCountryMapping.objects.filter(shop_id=shop_id).values_list("value", "country_code")
    return MappingProxyType(dict(rows))


def country_names() -> dict[str, str]:
    """Every known code -> a name for it: the reference names, and the codes of the aliases."""
    names = {code: f"{names[0]} ({code})" for code, names in COUNTRY_ALIASES.items()}
    for code in CountryAlias.objects.values_list("country_code", flat=True).distinct():
        names.setdefault(code, code)
    return dict(sorted(names.items(), key=lambda kv: kv[1]))


def country_choices(*, shop: Shop, value: str) -> list[tuple[str, str]]:
    """(code, label) a value may be mapped to: the shop's own country first for a value that
    names no country (Unspecified), then every known country."""
    names = country_names()
    own = shop.region.country_code
    first = [(own, f"This shop's country: {names.get(own, own)}")] if is_placeholder(value) else []
    return first + [(code, name) for code, name in names.items()]


def country_code_checked(code: str) -> str:
    code = (code or "").strip().upper()
    country_code_validator(code)
    if code not in country_names():
        raise ValidationError(f"Unknown country code '{code}'.")
    return code


def shop_country_map(*, shop: Shop, value: str, country_code: str, user) -> ShopCountryMapping:
    """Remember that `value` in this shop's files means `country_code`."""
    key = country_value_key(value)
    if not key or len(key) > ShopCountryMapping._meta.get_field("value").max_length:
        raise ValidationError("Choose a country value of the file to map.")
    code = country_code_checked(country_code)
    mapping, _ = ShopCountryMapping.objects.update_or_create(
        shop=shop, value=key, defaults={"country_code": code, "created_by": user}
    )
    return mapping


def country_alias_add(*, value: str, country_code: str) -> CountryAlias:
    """The global alias `value` -> `country_code` (every shop's files); an alias that exists
    already is kept when it says the same, refused when it says another country."""
    key = country_value_key(value)
    code = country_code_checked(country_code)
    existing = CountryAlias.objects.filter(alias=key).first()
    if existing is not None:
        if existing.country_code != code:
            raise ValidationError(f"'{key}' is already an alias of {existing.country_code}.")
        return existing
    try:
        with transaction.atomic():
            return CountryAlias.objects.create(alias=key, country_code=code)
    except IntegrityError:  # added meanwhile
        return country_alias_add(value=value, country_code=country_code)
