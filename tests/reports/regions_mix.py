"""Real files of several shops whose customers live in several countries, some of them in
no region, run through the whole pipeline: what issue 18 saw as a new user.

- UK-LON (mgr_uk_lon): the head of the Online Retail sample (Sep - Nov 2011), mostly UK
  customers, some French and some of countries no region covers (Germany, Ireland, ...).
- UK-MAN (admin): the sfc sample (1 Dec 2010): UK, French and Australian customers.
- US-NYC (mgr_us_nyc): the USA rows, and one stray sale to a UK customer dated 2023.
- AU-SYD (mgr_au_syd): only German customers (a country no region covers).
- FR-PAR (mgr_fr_par): a slice of the France rows.

`expected_where(username)` writes each viewer's rows as SQL over the fact table from the
rule itself (their region's shops, or their countries), not from the app's scope.
"""

from pathlib import Path

from apps.accounts.models import Profile, Shop
from apps.uploads.models import Upload
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded

# A real US-NYC line (bernasiakk_usa.csv, invoice 550644) sold to a UK customer, dated 2023.
STRAY_SALE = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "550644,22722,SET OF 6 SPICE TINS PANTRY DESIGN,7,5/2/2023 16:19,3.95,12733,United Kingdom\n"
)
FILES = {
    "london": ("mgr_uk_lon", "UK-LON", "online_retail_sample_vikash_head.csv"),
    "manchester": ("admin", "UK-MAN", "online_retail_sample_sfc.csv"),
    "new_york": ("mgr_us_nyc", "US-NYC", "bernasiakk_usa.csv"),
    "sydney": ("mgr_au_syd", "AU-SYD", "online_retail_sample_vikash_germany.csv"),
    "paris": ("mgr_fr_par", "FR-PAR", "bernasiakk_france_slice.csv"),
}


def regions_mix_load(cast, sample, tmp_path: Path, *, stray: bool = True) -> dict[str, Upload]:
    uploads = {key: upload_loaded(cast[user], shop, sample(name)) for key, (user, shop, name) in FILES.items()}
    if stray:
        path = tmp_path / "nyc-2023.csv"
        path.write_text(STRAY_SALE)
        uploads["stray"] = upload_loaded(cast["mgr_us_nyc"], "US-NYC", path)
    assert {u.status for u in uploads.values()} <= set(Upload.IN_WAREHOUSE), uploads
    return uploads


def expected_where(user) -> str:
    """The rows `user` sees under the rule of issue 18, point 4, as a predicate."""
    profile = user.profile
    if user.is_superuser or profile.role == Profile.Role.ADMIN:
        return "TRUE"
    if profile.role == Profile.Role.SHOP_MANAGER:
        return f"store_id IN ({_quoted(profile.shops.values_list('code', flat=True))})"
    countries = list(profile.regions.values_list("country_code", flat=True))
    shops = Shop.objects.filter(region__country_code__in=countries).values_list("code", flat=True)
    return f"(store_id IN ({_quoted(shops)}) OR country_code IN ({_quoted(countries)}))"


def _quoted(values) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values)) or "NULL"


def warehouse_figures(where: str) -> dict:
    """Rows, revenue and orders of the fact table under a predicate, straight from the warehouse."""
    sql = (
        "SELECT count(*) AS lines, coalesce(sum(revenue_reporting), 0) AS revenue, "
        f'count(DISTINCT order_id) AS orders FROM "orders-cleaned" WHERE {where}'
    )
    row = warehouse().query(sql, {}).to_pylist()[0]
    return {"lines": int(row["lines"]), "revenue": float(row["revenue"]), "orders": int(row["orders"])}
