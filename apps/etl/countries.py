"""Reference data: ISO 3166 alpha-2 codes and the names files use for them.

Loaded into CountryAlias by a data migration; admins add more in /admin/. Names that
stand for no single country (Unspecified, European Community, Channel Islands) are left
out on purpose, so rows carrying them are rejected as "unknown country".
"""

COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "AE": ("United Arab Emirates", "UAE"),
    "AR": ("Argentina",),
    "AT": ("Austria",),
    "AU": ("Australia", "AUS"),
    "BE": ("Belgium",),
    "BG": ("Bulgaria",),
    "BH": ("Bahrain",),
    "BR": ("Brazil",),
    "CA": ("Canada",),
    "CH": ("Switzerland",),
    "CL": ("Chile",),
    "CN": ("China",),
    "CY": ("Cyprus",),
    "CZ": ("Czech Republic", "Czechia"),
    "DE": ("Germany", "Deutschland"),
    "DK": ("Denmark",),
    "EE": ("Estonia",),
    "EG": ("Egypt",),
    "ES": ("Spain", "España"),
    "FI": ("Finland",),
    "FR": ("France", "FRA"),
    "GB": (
        "United Kingdom",
        "UK",
        "Great Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "GBR",
    ),
    "GR": ("Greece",),
    "HK": ("Hong Kong",),
    "HR": ("Croatia",),
    "HU": ("Hungary",),
    "ID": ("Indonesia",),
    "IE": ("Ireland", "EIRE", "Republic of Ireland"),
    "IL": ("Israel",),
    "IN": ("India",),
    "IS": ("Iceland",),
    "IT": ("Italy",),
    "JP": ("Japan",),
    "KR": ("South Korea", "Korea"),
    "LB": ("Lebanon",),
    "LT": ("Lithuania",),
    "LU": ("Luxembourg",),
    "LV": ("Latvia",),
    "MT": ("Malta",),
    "MX": ("Mexico",),
    "MY": ("Malaysia",),
    "NG": ("Nigeria",),
    "NL": ("Netherlands", "Holland", "The Netherlands"),
    "NO": ("Norway",),
    "NZ": ("New Zealand",),
    "PH": ("Philippines",),
    "PL": ("Poland",),
    "PT": ("Portugal",),
    "RO": ("Romania",),
    "SA": ("Saudi Arabia",),
    "SE": ("Sweden",),
    "SG": ("Singapore",),
    "SI": ("Slovenia",),
    "SK": ("Slovakia",),
    "TH": ("Thailand",),
    "TR": ("Turkey", "Türkiye"),
    "TW": ("Taiwan",),
    "US": ("United States", "USA", "United States of America", "U.S.A.", "U.S."),
    "VN": ("Vietnam", "Viet Nam"),
    "ZA": ("South Africa", "RSA"),
}


def alias_rows() -> list[tuple[str, str]]:
    """(alias upper-cased, code) for every name and for the code itself."""
    rows = []
    for code, names in COUNTRY_ALIASES.items():
        rows.append((code, code))
        rows += [(name.upper(), code) for name in names]
    return rows


def country_aliases_seed(model) -> int:
    """Add the reference aliases missing from `model` (CountryAlias, or its historical
    version in a migration); return how many were added."""
    existing = set(model.objects.values_list("alias", flat=True))
    missing = [model(alias=alias, country_code=code) for alias, code in alias_rows() if alias not in existing]
    model.objects.bulk_create(missing)
    return len(missing)
