"""The configured warehouse, and keeping its table and views in line with the regions."""

import uuid
from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path

import pyarrow as pa
from django.conf import settings
from django.core.files.storage import default_storage

from apps.accounts.models import Region
from apps.warehouse.base import Warehouse, WarehouseError
from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from apps.warehouse.models import WarehouseVersion
from apps.warehouse.row_access import row_access_policies


@cache
def _warehouse(
    kind: str,
    root: str,
    project: str,
    dataset: str,
    endpoint: str,
    compact_files: int,
    memory: str,
    spill: str,
    location: str = "",
) -> Warehouse:
    if kind == "bigquery":
        from apps.warehouse.bigquery import BigQueryWarehouse
        from apps.warehouse.pending import DatabaseCommits

        # Batches are staged by each worker and applied in groups under one writer lock,
        # kept in the app database (apps/warehouse/commits.py).
        return BigQueryWarehouse(
            project=project, dataset=dataset, api_endpoint=endpoint, location=location, commits=DatabaseCommits()
        )
    from apps.warehouse.embedded import EmbeddedWarehouse

    return EmbeddedWarehouse(root, compact_files=compact_files, reader_memory_limit=memory, spill_dir=Path(spill))


def warehouse() -> Warehouse:
    """The warehouse the settings point at (one instance per process and configuration)."""
    return _warehouse(
        settings.WAREHOUSE,
        str(settings.WAREHOUSE_DIR),
        settings.BIGQUERY_PROJECT,
        settings.BIGQUERY_DATASET,
        settings.BIGQUERY_API_ENDPOINT,
        settings.WAREHOUSE_COMPACT_FILES,
        settings.WAREHOUSE_READER_MEMORY_LIMIT,
        str(Path(settings.TEMP_DIR) / "warehouse-reader"),
        settings.BIGQUERY_LOCATION,
    )


def warehouse_identity() -> str:
    """Which warehouse the settings point at, as text (results cached from one are not another's)."""
    if settings.WAREHOUSE == "bigquery":
        return f"bigquery:{settings.BIGQUERY_PROJECT}.{settings.BIGQUERY_DATASET}@{settings.BIGQUERY_API_ENDPOINT}"
    return f"{settings.WAREHOUSE}:{settings.WAREHOUSE_DIR}"


def batch_days(*, upload_ids: Sequence[str], first: date, last: date) -> dict[str, list[tuple[date, str, str, int]]]:
    """The rows of these uploads per order day, country and shop ('' for none), read from the
    order days `first` to `last` only (BigQuery: those partitions): one grouped query."""
    names = [f"u{i}" for i in range(len(upload_ids))]
    params: dict = {name: str(u) for name, u in zip(names, upload_ids, strict=True)} | {"first": first, "last": last}
    sql = (
        f'SELECT upload_id, order_date, country_code, store_id, count(*) AS n FROM "{FACT_TABLE}" '
        f"WHERE order_date BETWEEN $first AND $last AND upload_id IN ({', '.join('$' + n for n in names)}) "
        "GROUP BY upload_id, order_date, country_code, store_id"
    )
    found: dict[str, list[tuple[date, str, str, int]]] = {}
    for row in warehouse().query(sql, params).to_pylist():
        day = (row["order_date"], row["country_code"] or "", row["store_id"] or "", int(row["n"]))
        found.setdefault(row["upload_id"], []).append(day)
    return found


def view_specs() -> list[ViewSpec]:
    regions = Region.objects.order_by("view_name")
    return [ViewSpec(r.view_name, r.country_code) for r in regions] + [ViewSpec(MASTER_VIEW)]


def warehouse_sync(
    *, dry_run: bool = False, added: Sequence[pa.Field] = (), row_access: bool | None = None
) -> list[str]:
    """Create or upgrade the fact table (with `added`, the admin's fields beyond the
    canonical columns, as nullable columns) and one view per region plus the master view;
    then the row access policies, when asked (`row_access`) or, unasked, when
    BIGQUERY_ROW_ACCESS says so on a warehouse that has them. With dry_run, only say what
    would change."""
    found = warehouse()
    changes = found.ensure_schema(views=view_specs(), added=added, dry_run=dry_run)
    if row_access is None:
        row_access = settings.BIGQUERY_ROW_ACCESS and found.capabilities.row_access
    if row_access:
        changes += warehouse_row_access_sync(dry_run=dry_run)
    return changes


def warehouse_row_access_sync(*, dry_run: bool = False) -> list[str]:
    """The fact table's row access policies made what the regions say (apps/warehouse/row_access.py)."""
    found = warehouse()
    if not found.capabilities.row_access:
        raise WarehouseError(
            f"The {found.name} warehouse has no row access policies: the app is its only reader and scopes "
            "every read itself. They are BigQuery's (WAREHOUSE=bigquery)."
        )
    try:
        policies = row_access_policies(
            service_account=settings.BIGQUERY_SERVICE_ACCOUNT, also_all_rows=settings.BIGQUERY_ALL_ROWS_MEMBERS
        )
    except ValueError as exc:
        raise WarehouseError(str(exc)) from exc
    return found.row_access_sync(policies=policies, dry_run=dry_run)


def warehouse_compact() -> dict[str, int]:
    """Compact the warehouse's files where its backend does that (the embedded one)."""
    found = warehouse()
    return found.compact() if found.capabilities.compaction else {}


def stored_file_uri(name: str) -> str | None:
    """gs://bucket/name when stored files are in Google Cloud Storage (a warehouse can load a
    processed file from there directly), else None."""
    bucket = getattr(default_storage, "bucket_name", None)
    return f"gs://{bucket}/{name}" if bucket else None


def warehouse_version() -> str:
    """The current version of the warehouse's contents (made on first use)."""
    token = WarehouseVersion.objects.filter(pk=1).values_list("token", flat=True).first()
    if token:
        return token
    found, _ = WarehouseVersion.objects.get_or_create(pk=1, defaults={"token": uuid.uuid4().hex})
    return found.token


def warehouse_version_bump() -> None:
    """The fact table's rows changed: results cached under the old version are never read
    again. Called after the write is committed (a reader that saw the old version may have
    cached the old rows under it, and only under it), in the caller's transaction when there
    is one (the upload's ending)."""
    token = uuid.uuid4().hex
    if not WarehouseVersion.objects.filter(pk=1).update(token=token):
        WarehouseVersion.objects.update_or_create(pk=1, defaults={"token": token})
