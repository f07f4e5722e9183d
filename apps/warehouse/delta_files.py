"""A parquet file written elsewhere (the ETL's processed file), committed to the Delta table
as it is: the rows are encoded once, for storage and warehouse alike.

Delta wants, for each added file, its size, time and statistics. Only statistics the file's
own footer proves are written: the row count and the range of upload_id, a single id.
Wrong min/max values would make delta-rs skip the file when it deletes or replaces that
upload's rows; absent ones (the other columns) only make it read the file to find out.
"""

import json
import os
import shutil
import time
import uuid
import zlib
from collections.abc import Collection
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake.transaction import AddAction, RemoveAction

BATCH_COLUMN = "upload_id"


def batch_stats(path: Path, upload_id: str) -> str | None:
    """Delta's stats JSON for a file all of whose rows are `upload_id`'s; None unless its
    footer says so (every row group's upload_id min = max = the id, no NULLs)."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.to_arrow_schema().get_field_index(BATCH_COLUMN)
    if column < 0 or meta.num_row_groups == 0:
        return None
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max or not stats.has_null_count:
            return None
        if (stats.min, stats.max, stats.null_count) != (upload_id, upload_id, 0):
            return None
    ranges = {BATCH_COLUMN: upload_id}
    return json.dumps(
        {"numRecords": meta.num_rows, "minValues": ranges, "maxValues": ranges, "nullCount": {BATCH_COLUMN: 0}}
    )


def same_schema(table: DeltaTable, path: Path) -> bool:
    """Whether the file fits the table as it is: each of its columns is one of the table's,
    with the same type, and each table column it lacks may be NULL (a field an admin
    dropped: Delta readers give NULL for a column a file lacks, as for files written before
    a column was added). A file with a column the table lacks needs the table's schema
    changed: not done here."""
    have = {f.name: f.type for f in pq.read_schema(path)}
    want = pa.schema(table.schema().to_arrow())
    if any(name not in want.names or want.field(name).type != kind for name, kind in have.items()):
        return False
    return all(f.nullable for f in want if f.name not in have)


def files_replaced(table: DeltaTable, ids: Collection[str]) -> list[RemoveAction] | None:
    """Remove actions for the table's files that may hold rows of `ids`, when each of them
    holds one of these ids only (its upload_id min = max, no NULLs); None when one may hold
    other rows too (a compacted file mixing uploads) or has no statistics to tell."""
    files = pa.table(table.get_add_actions(flatten=True))
    if files.num_rows == 0:
        return []
    low, high, nulls = (f"{stat}.{BATCH_COLUMN}" for stat in ("min", "max", "null_count"))
    if not {low, high, nulls} <= set(files.column_names):
        return None
    now = int(time.time() * 1000)
    removes = []
    for file in files.select(["path", "size_bytes", low, high, nulls]).to_pylist():
        if file[low] is None or file[high] is None:
            return None
        if not any(file[low] <= i <= file[high] for i in ids):
            continue
        # Rows without an upload id would go with the file: the predicate decides then.
        if file[low] != file[high] or file[nulls] != 0:
            return None
        removes.append(RemoveAction(file["path"], True, now, file["size_bytes"], None))
    return removes


def files_holding(table: DeltaTable, ids: Collection[str]) -> list[str]:
    """The table's files (paths in its folder) whose upload_id range may hold one of `ids`,
    from the log's statistics; a file without them may hold any."""
    files = pa.table(table.get_add_actions(flatten=True))
    low, high = (f"{stat}.{BATCH_COLUMN}" for stat in ("min", "max"))
    if files.num_rows == 0:
        return []
    if not {low, high} <= set(files.column_names):
        return files.column("path").to_pylist()
    return [
        file["path"]
        for file in files.select(["path", low, high]).to_pylist()
        if file[low] is None or file[high] is None or any(file[low] <= i <= file[high] for i in ids)
    ]


def place(path: Path, table_uri: str, *, stats: str) -> AddAction:
    """The file under a new part-file name in the table's folder (a hard link when both are
    on one file system, else a copy), as an add action."""
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    target = Path(table_uri) / name
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    done = target.stat()
    return AddAction(name, done.st_size, {}, int(done.st_mtime * 1000), True, stats)


def commit(table: DeltaTable, actions: list[AddAction | RemoveAction], *, ids: Collection[str]) -> None:
    """One commit of files already in the table's folder (the table's schema unchanged)."""
    table.create_write_transaction(actions, mode="append", schema=table.schema(), commit_properties=batch_claims(ids))


# Claims are kept by every snapshot for ever (delta-rs does not honour
# delta.setTransactionRetentionDuration): one per upload would grow the log with every
# upload. Uploads share a fixed set of claims instead; two of the same set may conflict
# for nothing, and then one retries.
CLAIMS = 256


def batch_claims(ids: Collection[str]) -> CommitProperties:
    """One Delta application transaction per upload id the commit writes or removes: two
    commits touching the same upload conflict even when both only add files (one retries
    and then sees the other's file), as predicate overwrites do."""
    version = time.time_ns() // 1000
    claims = sorted({f"uploads:{zlib.crc32(str(i).encode()) % CLAIMS}" for i in ids})
    return CommitProperties(app_transactions=[Transaction(app_id=claim, version=version) for claim in claims])
