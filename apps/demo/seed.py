"""The demo cast and reference data `manage.py seed_demo` creates (idempotent)."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.accounts.models import Profile, Region, Shop
from apps.etl.countries import country_aliases_seed
from apps.etl.models import CountryAlias, FxRate, SalesSchema, SchemaField
from apps.etl.pipeline.spec import DataType

REGIONS = [
    # name, country code, currency, date order, warehouse view
    ("USA", "US", "USD", "MDY", "USA_Sales_View"),
    ("UK", "GB", "GBP", "DMY", "UK_Sales_View"),
    ("France", "FR", "EUR", "DMY", "France_Sales_View"),
    ("Australia", "AU", "AUD", "DMY", "Aus_Sales_View"),
]
SHOPS = [
    ("US-NYC", "New York", "US"),
    ("US-SFO", "San Francisco", "US"),
    ("UK-LON", "London", "GB"),
    ("UK-MAN", "Manchester", "GB"),
    ("FR-PAR", "Paris", "FR"),
    ("FR-LYS", "Lyon", "FR"),
    ("AU-SYD", "Sydney", "AU"),
    ("AU-MEL", "Melbourne", "AU"),
]
# username, role, regions (country codes), shops
USERS = [
    ("admin", Profile.Role.ADMIN, [], []),
    ("head_us", Profile.Role.REGIONAL_HEAD, ["US"], []),
    ("head_uk", Profile.Role.REGIONAL_HEAD, ["GB"], []),
    ("head_fr", Profile.Role.REGIONAL_HEAD, ["FR"], []),
    ("head_au", Profile.Role.REGIONAL_HEAD, ["AU"], []),
    ("mgr_us_nyc", Profile.Role.SHOP_MANAGER, [], ["US-NYC"]),
    ("mgr_uk_lon", Profile.Role.SHOP_MANAGER, [], ["UK-LON"]),
    ("mgr_fr_par", Profile.Role.SHOP_MANAGER, [], ["FR-PAR"]),
    ("mgr_au_syd", Profile.Role.SHOP_MANAGER, [], ["AU-SYD"]),
]
# The canonical fields and the headers that mean them (Online Retail, sales_data_sample, common).
SCHEMA_FIELDS = [
    (
        "order_id",
        DataType.STRING,
        True,
        "InvoiceNo\nInvoice\nInvoice No\nORDERNUMBER\nOrder ID\nOrder Number",
    ),
    ("order_date", DataType.DATETIME, True, "InvoiceDate\nORDERDATE\nOrder Date\nDate"),
    ("product_id", DataType.STRING, True, "StockCode\nPRODUCTCODE\nSKU\nProduct Code"),
    ("product_name", DataType.STRING, False, "Description\nProduct\nProduct Name"),
    ("category", DataType.STRING, False, "PRODUCTLINE\nProduct Line\nCategory"),
    ("quantity", DataType.INTEGER, True, "QUANTITYORDERED\nQty\nQuantity Ordered"),
    ("unit_price", DataType.DECIMAL, True, "UnitPrice\nPrice\nPRICEEACH\nUnit Price"),
    ("currency", DataType.STRING, False, "Currency\nCurrency Code"),
    ("customer_id", DataType.STRING, False, "CustomerID\nCustomer ID"),
    ("country", DataType.STRING, False, "Country\nCountry Name"),
]
# Demo exchange rates into the reporting currency, in force from January 2000 on.
DEMO_RATES_TO_USD = {"GBP": "1.27", "EUR": "1.08", "AUD": "0.66", "USD": "1"}


@transaction.atomic
def demo_seed(*, password: str) -> dict[str, int]:
    regions = {}
    for name, code, currency, order, view in REGIONS:
        regions[code], _ = Region.objects.update_or_create(
            country_code=code,
            defaults={"name": name, "currency": currency, "date_order": order, "view_name": view},
        )
    shops = {}
    for code, name, country in SHOPS:
        shops[code], _ = Shop.objects.update_or_create(code=code, defaults={"name": name, "region": regions[country]})
    for username, role, region_codes, shop_codes in USERS:
        _user_seed(username, role, [regions[c] for c in region_codes], [shops[s] for s in shop_codes], password)
    _schema_seed()
    _rates_seed()
    # The migration loads these; a database flushed since (as by tests) gets them back here.
    country_aliases_seed(CountryAlias)
    return {"regions": len(regions), "shops": len(shops), "users": len(USERS)}


def _user_seed(username: str, role: str, regions: list, shops: list, password: str) -> None:
    """Create the demo user with its role and scope; an existing one is left as the admin set it."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if not created:
        return
    user.is_staff = user.is_superuser = role == Profile.Role.ADMIN
    user.email = f"{username}@example.com"
    user.set_password(password)
    user.save()
    profile = Profile.objects.create(user=user, role=role)
    profile.regions.set(regions)
    profile.shops.set(shops)


def _schema_seed() -> None:
    if SalesSchema.objects.filter(is_active=True).exists():
        return  # the admin's active schema wins over the demo's
    schema = SalesSchema.objects.create(name="sales", version=1, is_active=True, max_bad_row_pct=50)
    for position, (name, data_type, required, aliases) in enumerate(SCHEMA_FIELDS):
        SchemaField.objects.create(
            schema=schema,
            name=name,
            data_type=data_type,
            required=required,
            aliases=aliases,
            position=position,
        )


def _rates_seed() -> None:
    if settings.REPORTING_CURRENCY != "USD":
        return
    for currency, rate in DEMO_RATES_TO_USD.items():
        FxRate.objects.get_or_create(
            currency=currency, quote_currency="USD", month=date(2000, 1, 1), defaults={"rate": Decimal(rate)}
        )
