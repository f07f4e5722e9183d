"""Worker processes for the BigQuery write tests and the load bench: each replaces batches
through the real BigQueryWarehouse.replace_batch against the double, with the group commit
kept in a folder shared by the processes (FileCommits), and says how each went."""

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from apps.warehouse.base import DateSpan
from apps.warehouse.bigquery import BigQueryWarehouse
from apps.warehouse.commits import FileCommits
from tests.warehouse.factories import fact_rows


@dataclass(frozen=True)
class Target:
    endpoint: str
    project: str
    dataset: str
    commits: str  # the FileCommits folder
    retry_delay: float = 0.05


@dataclass(frozen=True)
class Job:
    upload_id: str
    rows: int
    day: int = 1
    store: str = "S1"
    retire: tuple[str, ...] = ()
    # Where the rows it replaces lie (its earlier load, a retired upload's), as the app passes.
    removes: "tuple[DateSpan | None, ...] | None" = ()


def warehouse_of(target: Target) -> BigQueryWarehouse:
    return BigQueryWarehouse(
        project=target.project,
        dataset=target.dataset,
        api_endpoint=target.endpoint,
        location="US",
        retry_delay=target.retry_delay,
        commits=FileCommits(Path(target.commits)),
    )


def batch(job: Job) -> pa.Table:
    table = fact_rows(job.upload_id, job.rows, day=job.day)
    stores = pa.array([job.store] * job.rows, pa.string())
    table = table.set_column(table.schema.get_field_index("store_id"), "store_id", stores)
    # Line keys as the ETL writes them (distinct per line): what displacement compares.
    keys = pc.binary_join_element_wise(pa.array([job.upload_id] * job.rows), table.column("order_id"), "|")
    return table.set_column(table.schema.get_field_index("line_key"), "line_key", keys)


def replace_all(target: Target, jobs: list[Job]) -> list[tuple[str, int, str, float]]:
    """(upload id, rows loaded, error or "", seconds) for each job, in order."""
    wh, done = warehouse_of(target), []
    for job in jobs:
        started = time.monotonic()
        try:
            rows = wh.replace_batch(upload_id=job.upload_id, table=batch(job), retire=job.retire, removes=job.removes)
            done.append((job.upload_id, rows, "", time.monotonic() - started))
        except Exception as exc:  # reported, not raised: the caller counts failures
            done.append((job.upload_id, 0, f"{type(exc).__name__}: {exc}", time.monotonic() - started))
    return done


def stage_then_die(target: Target, job: Job) -> None:
    """Stage and record the batch, then die before applying it (a worker killed mid-load)."""
    wh = warehouse_of(target)
    wh.stage(upload_id=job.upload_id, table=batch(job), removes=())
    os._exit(17)
