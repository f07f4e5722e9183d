"""Fact rows written straight into the embedded warehouse, with an Upload per shop for
lineage: every figure is known in advance, and each shop's rows carry its own markers
(product codes and names that contain the shop code), so a test can tell whose data leaked."""

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from django.db import transaction

from apps.accounts.models import Shop
from apps.uploads.days import upload_days_set
from apps.uploads.models import Upload
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.services import warehouse, warehouse_version_bump

LAST_DAY = date(2011, 12, 9)
FIRST_DAY = LAST_DAY - timedelta(days=99)
RATES = {"USD": Decimal("1"), "GBP": Decimal("1.27"), "EUR": Decimal("1.08"), "AUD": Decimal("0.66")}
CATEGORY = {"US": "Lamps", "GB": "Mugs", "FR": "Candles", "AU": "Tins"}
# Shop -> days with no upload at all (a gap the coverage grid must show).
GAPS = {"UK-MAN": {LAST_DAY - timedelta(days=d) for d in range(3, 8)}}
FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


def marker(shop: str) -> str:
    """A string only this shop's rows contain."""
    return f"Widget-{shop}"


def _rows_for(shop: Shop, upload_id: str) -> list[dict]:
    country, currency = shop.region.country_code, shop.region.currency
    rows, day, n = [], FIRST_DAY, 0
    while day <= LAST_DAY:
        if day not in GAPS.get(shop.code, set()) and day.weekday() != 6:  # closed on Sundays
            for k in range(2):
                n += 1
                quantity = -1 if n % 25 == 0 else k + 1
                price = Decimal("2.50") + Decimal(k)
                name = FORMULA_NAME if (shop.code == "US-NYC" and n == 1) else f"{marker(shop.code)} {k}"
                revenue = price * quantity
                rows.append(
                    {
                        "upload_id": upload_id,
                        "source_row": n,
                        "order_id": f"{shop.code}-O{n // 2}",
                        "order_date": day,
                        "order_ts": datetime(day.year, day.month, day.day, 10, 0),
                        "country_code": country,
                        "store_id": shop.code,
                        "product_id": f"P-{shop.code}-{k}",
                        "product_name": name,
                        "category": CATEGORY[country],
                        "quantity": quantity,
                        "unit_price": price,
                        "currency": currency,
                        "revenue": revenue,
                        "revenue_reporting": revenue * RATES[currency],
                        "customer_id": None,
                        "is_return": quantity < 0,
                        "loaded_at": datetime(2012, 1, 1, tzinfo=UTC),
                    }
                )
        day += timedelta(days=1)
    return rows


def _upload(shop: Shop, name: str) -> Upload:
    return Upload.objects.create(
        id=uuid.uuid4(),
        shop=shop,
        original_name=name,
        raw_path=f"raw/{name}",
        sha256="0" * 64,
        status=Upload.Status.LOADED,
    )


def load_facts(shop_codes: list[str] | None = None) -> dict[str, Upload]:
    """One loaded upload per shop (default: every shop), its rows in the warehouse; a shop
    with a gap has two uploads, one either side of it."""
    uploads = {}
    for shop in Shop.objects.select_related("region"):
        if shop_codes is not None and shop.code not in shop_codes:
            continue
        upload = uploads[shop.code] = _upload(shop, f"sales-{shop.code}.csv")
        rows = _rows_for(shop, str(upload.id))
        if shop.code in GAPS:
            after = _upload(shop, f"sales-{shop.code}-late.csv")
            for row in rows:
                if row["order_date"] > max(GAPS[shop.code]):
                    row["upload_id"] = str(after.id)
            _write(str(after.id), [r for r in rows if r["upload_id"] == str(after.id)])
        _write(str(upload.id), [r for r in rows if r["upload_id"] == str(upload.id)])
    return uploads


def _write(upload_id: str, rows: list[dict]) -> None:
    table = pa.Table.from_pylist(rows, schema=FACT_SCHEMA)
    warehouse().replace_batch(upload_id=upload_id, table=table)
    facts_recorded(upload_id, table)


def facts_recorded(upload_id: str, table: pa.Table) -> None:
    """What a load records in the app database of rows written straight into the warehouse:
    the upload's lines per day, country and shop, its order span, and a new warehouse version
    (the reports read their days from there, and cache their results under the version)."""
    counts = table.group_by(["order_date", "country_code", "store_id"]).aggregate([("order_date", "count")])
    days = [(r["order_date"], r["country_code"] or "", r["store_id"] or "", r["order_date_count"])
            for r in counts.to_pylist()]  # fmt: skip
    with transaction.atomic():
        upload_days_set(upload_id, days)
        first, last = (min(d[0] for d in days), max(d[0] for d in days)) if days else (None, None)
        Upload.objects.filter(pk=upload_id).update(
            first_order_date=first, last_order_date=last, rows_loaded=table.num_rows
        )
        warehouse_version_bump()


@pytest.fixture
def facts(fast_password_hashing, cast) -> dict[str, Upload]:
    """Every demo shop's sales for the 100 days up to 9 Dec 2011, one upload per shop."""
    return load_facts()


@pytest.fixture
def fast_password_hashing(settings) -> None:
    """The demo cast sets nine passwords; PBKDF2 would spend seconds on them per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
