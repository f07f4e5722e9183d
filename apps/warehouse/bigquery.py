"""The BigQuery warehouse: dataset `sales`, table `orders-cleaned`, one view per region.

A batch is loaded as the seed's Cloud Function did (a load job from parquet), but into a
staging table first; one multi-statement transaction then swaps the upload's rows, so a
reader sees the old batch or the new one, never half, and running it again changes nothing.

Google's clients are not fork-safe: the client is made on first use in each process.
"""

import io
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from google.api_core import exceptions as gexc

from apps.warehouse.base import (
    MATCH_COUNTS,
    MATCH_KEYS,
    BatchSource,
    Capabilities,
    LineMatches,
    ParquetBatch,
    ResultPage,
    WarehouseBusy,
    WarehouseError,
    date_trunc_checked,
    line_matches_of,
)
from apps.warehouse.bigquery_dialect import (
    error_reason,
    is_transient,
    query_parameters,
    schema_fields,
    to_googlesql,
)
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE, ViewSpec

log = logging.getLogger(__name__)
T = TypeVar("T")

PARTITION_FIELD = "order_date"
CLUSTERING_FIELDS = ["country_code", "store_id", "product_id"]
STAGING_TTL = timedelta(days=1)  # a staging table left by a killed worker expires by itself
ATTEMPTS = 6


# The line key (apps/warehouse/fact.py) in GoogleSQL, for rows loaded before keys were stored.
LINE_KEY_PARTS = (
    "COALESCE(order_id, '') || '|' || COALESCE(product_id, '') || '|' || "
    "FORMAT_TIMESTAMP('%Y%m%d%H%M%S', COALESCE(order_ts, TIMESTAMP(order_date))) || '|' || "
    "CAST(quantity AS STRING) || '|' || CAST(CAST(unit_price * 10000 AS INT64) AS STRING)"
)


def keyed_rows_sql(source: str, where: str) -> str:
    """GoogleSQL: the rows of `source` matching `where` with their line key, stored or (line_key
    NULL) computed as the ETL computes it. Columns: upload_id, source_row, store_id, line_key."""
    occurrence = "ROW_NUMBER() OVER (PARTITION BY upload_id, key_parts ORDER BY source_row)"
    return f"""
        SELECT upload_id, source_row, store_id, line_key FROM {source} WHERE ({where}) AND line_key IS NOT NULL
        UNION ALL
        SELECT upload_id, source_row, store_id, TO_HEX(MD5(key_parts || '|' || CAST({occurrence} AS STRING)))
        FROM (SELECT upload_id, source_row, store_id, {LINE_KEY_PARTS} AS key_parts
              FROM {source} WHERE ({where}) AND line_key IS NULL)"""


class BigQueryWarehouse:
    name = "bigquery"
    capabilities = Capabilities(
        # BigQuery loads the processed file as it is; V1 pages and the classic encodings,
        # which every Parquet reader takes (V2's newer encodings are not read everywhere).
        parquet_version="v1",
        compaction=False,  # BigQuery manages its own storage
        retryable=is_transient,
    )

    def __init__(
        self, *, project: str, dataset: str, api_endpoint: str = "", retry_delay: float = 1.0, location: str = ""
    ) -> None:
        self._project = project
        self.dataset = dataset
        # Where the dataset lives and every job runs (BIGQUERY_LOCATION: EU, europe-west2, ...).
        self.location = location
        self.api_endpoint = api_endpoint
        self.retry_delay = retry_delay
        self._pid = 0
        self._client_obj = None
        self._read_pid = 0
        self._read_client_obj = None
        # The Storage Read API refused a read: this process reads results over REST from then on.
        self.storage_unavailable = False

    # -- plumbing -------------------------------------------------------------------------
    def client(self):
        if self._client_obj is None or self._pid != os.getpid():
            from google.cloud import bigquery

            kwargs: dict[str, Any] = {}
            if self.api_endpoint:
                # An emulator: no Google credentials exist or are needed.
                from google.api_core.client_options import ClientOptions
                from google.auth.credentials import AnonymousCredentials

                kwargs = {
                    "client_options": ClientOptions(api_endpoint=self.api_endpoint),
                    "credentials": AnonymousCredentials(),
                }
            # Otherwise Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS).
            # The client's location is every job's (queries, loads, copies) unless a job names its own.
            self._client_obj = bigquery.Client(project=self._project or None, location=self.location or None, **kwargs)
            self._pid = os.getpid()
        return self._client_obj

    @property
    def project(self) -> str:
        return self._project or self.client().project

    def table_id(self, name: str) -> str:
        return f"{self.project}.{self.dataset}.{name}"

    def _ref(self, name: str) -> str:
        return f"`{self.table_id(name)}`"

    def _retrying(self, what: str, call: Callable[[], T]) -> T:
        """Run `call`, retrying transient faults with jittered backoff; permanent faults
        become a WarehouseError whose message is BigQuery's reason."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return call()
            except WarehouseError:
                raise
            except Exception as exc:
                if not self.capabilities.retryable(exc):
                    if isinstance(exc, gexc.GoogleAPIError):
                        raise WarehouseError(f"BigQuery {what} failed: {error_reason(exc)}") from exc
                    raise
                if attempt == ATTEMPTS:
                    reason = error_reason(exc)
                    raise WarehouseBusy(f"BigQuery {what}: still failing after {ATTEMPTS} tries: {reason}") from exc
                delay = min(30.0, self.retry_delay * 2 ** (attempt - 1)) * (0.5 + random.random())
                log.warning("BigQuery %s: %s; retry %s in %.1fs", what, error_reason(exc), attempt, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _get(self, table_id: str):
        try:
            return self.client().get_table(table_id)
        except gexc.NotFound:
            return None

    # -- schema ---------------------------------------------------------------------------
    def ensure_schema(self, *, views: Sequence[ViewSpec], dry_run: bool = False) -> list[str]:
        return self._retrying("schema sync", lambda: self._ensure_schema(views, dry_run))

    def _ensure_schema(self, views: Sequence[ViewSpec], dry_run: bool) -> list[str]:
        from google.cloud import bigquery

        client, changes = self.client(), []
        dataset_id = f"{self.project}.{self.dataset}"
        try:
            found = client.get_dataset(dataset_id)
        except gexc.NotFound:
            if not self.location:
                # BigQuery would put it in the US multi-region, and a dataset never moves.
                raise WarehouseError(
                    f"The dataset {dataset_id} does not exist: set BIGQUERY_LOCATION to where it should live "
                    "(e.g. EU, europe-west2, australia-southeast1; a dataset's location cannot be changed later), "
                    "then run warehouse_sync again."
                ) from None
            changes.append(f"create dataset {dataset_id} in {self.location}")
            if not dry_run:
                wanted = bigquery.Dataset(dataset_id)
                wanted.location = self.location
                client.create_dataset(wanted, exists_ok=True)
        else:
            if self.location and found.location and found.location.lower() != self.location.lower():
                raise WarehouseError(
                    f"The dataset {dataset_id} is in {found.location}, BIGQUERY_LOCATION says {self.location}: "
                    "jobs run where the dataset is; set BIGQUERY_LOCATION to its location."
                )
        changes += self._ensure_fact_table(dry_run)
        for view in views:
            wanted = self._view_sql(view)
            current = self._get(self.table_id(view.name))
            if current is not None and _same_sql(current.view_query or "", wanted):
                continue
            changes.append(f"{'create' if current is None else 'replace'} view {view.name}")
            if not dry_run:
                client.query_and_wait(f"CREATE OR REPLACE VIEW {self._ref(view.name)} AS {wanted}")
        return changes

    def _ensure_fact_table(self, dry_run: bool) -> list[str]:
        from google.cloud import bigquery

        client, fact_id = self.client(), self.table_id(FACT_TABLE)
        table = self._get(fact_id)
        if table is None:
            if not dry_run:
                table = bigquery.Table(fact_id, schema=schema_fields(FACT_SCHEMA))
                table.time_partitioning = bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=PARTITION_FIELD
                )
                table.clustering_fields = CLUSTERING_FIELDS
                client.create_table(table, exists_ok=True)
            return [f"create table {FACT_TABLE} (partitioned by {PARTITION_FIELD}, clustered by {CLUSTERING_FIELDS})"]
        partitioning = table.time_partitioning
        if partitioning is None or partitioning.field != PARTITION_FIELD or partitioning.type_ != "DAY":
            raise WarehouseError(
                f"Table {fact_id} is not partitioned by day on {PARTITION_FIELD}, and BigQuery cannot change "
                "partitioning in place: copy it into a new table created by warehouse_sync."
            )
        changes, fields = [], list(table.schema)
        have = {f.name for f in fields}
        for field in schema_fields(FACT_SCHEMA):
            if field.name not in have:
                changes.append(f"add column {field.name} {field.field_type} to {FACT_TABLE}")
                fields.append(field)
        updates = []
        if len(fields) != len(table.schema):
            table.schema, updates = fields, [*updates, "schema"]
        if list(table.clustering_fields or []) != CLUSTERING_FIELDS:
            changes.append(f"cluster {FACT_TABLE} by {CLUSTERING_FIELDS}")
            table.clustering_fields, updates = CLUSTERING_FIELDS, [*updates, "clustering_fields"]
        if updates and not dry_run:
            client.update_table(table, updates)
        return changes

    def _view_sql(self, view: ViewSpec) -> str:
        # ViewSpec has validated the country code, so it can be written into the DDL.
        where = "" if view.country_code is None else f" WHERE country_code = '{view.country_code}'"
        return f"SELECT * FROM {self._ref(FACT_TABLE)}{where}"

    # -- writes ---------------------------------------------------------------------------
    def replace_batch(
        self,
        *,
        upload_id: str,
        table: "pa.Table | BatchSource",
        retire: Sequence[str] = (),
        source_uri: str | None = None,
        displace: Sequence[str] = (),
    ) -> int:
        upload_id = str(uuid.UUID(str(upload_id)))
        retired = [str(uuid.UUID(str(r))) for r in retire]
        displaced = [str(uuid.UUID(str(r))) for r in displace]
        if callable(table) and not isinstance(table, ParquetBatch):  # one load job takes the whole batch
            table = table().read_all()
        staging = self.table_id(f"_staging_{upload_id.replace('-', '')}_{uuid.uuid4().hex[:8]}")
        try:
            rows = self._retrying(f"load of upload {upload_id}", lambda: self._load(staging, table, source_uri))
            if isinstance(table, ParquetBatch):
                table.committing()
            swap = partial(self._swap, upload_id, staging, retired, displaced)
            self._retrying(f"swap of upload {upload_id}", swap)
        finally:
            try:
                self.client().delete_table(staging, not_found_ok=True)
            except Exception:  # the staging table expires by itself anyway
                log.warning("could not drop staging table %s", staging, exc_info=True)
        return rows

    def _load(
        self, staging: str, table: "pa.Table | ParquetBatch", source_uri: str | None, schema: pa.Schema = FACT_SCHEMA
    ) -> int:
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        client = self.client()
        if source_uri:
            job = client.load_table_from_uri(source_uri, staging, job_config=config)
        elif isinstance(table, ParquetBatch):  # the file as it is, not encoded again
            with open(table.path, "rb") as fh:
                job = client.load_table_from_file(fh, staging, job_config=config, rewind=True)
        else:
            sink = io.BytesIO()
            # Fields an admin added ride along after the canonical ones, as they are.
            extra = [f for f in table.schema if f.name not in schema.names]
            pq.write_table(
                table.select([*schema.names, *(f.name for f in extra)]).cast(pa.schema([*schema, *extra])), sink
            )
            sink.seek(0)
            job = client.load_table_from_file(sink, staging, job_config=config, rewind=True)
        job.result()
        staged = client.get_table(staging)
        staged.expires = datetime.now(UTC) + STAGING_TTL
        client.update_table(staged, ["expires"])
        return int(job.output_rows or 0)

    def _swap(self, upload_id: str, staging: str, retired: list[str], displaced: list[str]) -> None:
        from google.cloud import bigquery

        # Staged types follow the parquet file (a naive time is DATETIME there): cast each
        # column to the fact table's type. Fields an admin added (staged beyond the canonical
        # columns) become NULLABLE columns of the table first, then are inserted as staged.
        extra = self._columns_added(staging)
        columns = ", ".join(f"`{name}`" for name in [*FACT_SCHEMA.names, *extra])
        casts = ", ".join(
            [f"CAST(`{f.name}` AS {f.field_type}) AS `{f.name}`" for f in schema_fields(FACT_SCHEMA)]
            + [f"`{name}`" for name in extra]
        )
        sql = f"""BEGIN TRANSACTION;
{self._displace_sql(staging) if displaced else ""}
DELETE FROM {self._ref(FACT_TABLE)} WHERE upload_id = @upload_id OR upload_id IN UNNEST(@retired);
INSERT INTO {self._ref(FACT_TABLE)} ({columns})
SELECT {casts} FROM `{staging}` WHERE upload_id = @upload_id;
COMMIT TRANSACTION;"""
        params = query_parameters({"upload_id": upload_id, "retired": retired, "displaced": displaced})
        self.client().query_and_wait(sql, job_config=bigquery.QueryJobConfig(query_parameters=params))

    def _columns_added(self, staging: str) -> list[str]:
        """The staged columns beyond the canonical ones, added to the fact table as NULLABLE
        columns where it lacks them (older rows read NULL); their names."""
        from google.cloud import bigquery

        client = self.client()
        staged = [f for f in client.get_table(staging).schema if f.name not in FACT_SCHEMA.names]
        if not staged:
            return []
        fact = client.get_table(self.table_id(FACT_TABLE))
        have = {f.name for f in fact.schema}
        missing = [bigquery.SchemaField(f.name, f.field_type, mode="NULLABLE") for f in staged if f.name not in have]
        if missing:
            fact.schema = [*fact.schema, *missing]
            client.update_table(fact, ["schema"])
            self._views_refresh()
        return [f.name for f in staged]

    def _views_refresh(self) -> None:
        """The dataset's views made again as they are: a view keeps the schema it had when
        made (Looker Studio reads that), so a column added to the table shows in it only then."""
        client = self.client()
        for item in client.list_tables(f"{self.project}.{self.dataset}"):
            if item.table_type == "VIEW":
                view = client.get_table(item.reference)
                client.query_and_wait(f"CREATE OR REPLACE VIEW {self._ref(item.table_id)} AS {view.view_query}")

    def _displace_sql(self, staging: str) -> str:
        """The rows of the displaced uploads (of the batch's shop and dates) whose line key is
        one of the staged batch's: deleted in the swap's transaction."""
        fact = self._ref(FACT_TABLE)
        staged = f"(SELECT {{}}(order_date) FROM `{staging}`)"
        where = (
            f"upload_id IN UNNEST(@displaced) AND store_id IN (SELECT DISTINCT store_id FROM `{staging}`) "
            f"AND order_date BETWEEN {staged.format('MIN')} AND {staged.format('MAX')}"
        )
        return f"""DELETE FROM {fact} t WHERE t.upload_id IN UNNEST(@displaced) AND EXISTS (
  SELECT 1 FROM ({keyed_rows_sql(fact, where)}) k JOIN `{staging}` s ON s.line_key = k.line_key
  WHERE k.upload_id = t.upload_id AND k.source_row = t.source_row);"""

    def line_matches(
        self, *, store_id: str, batch: ParquetBatch, exclude: Sequence[str] = (), keys: bool = False
    ) -> LineMatches:
        """The batch's keys (and order dates) loaded into a staging table (a load job of two
        columns, ~33 bytes a line), then one query over the fact table's partitions of the
        batch's order dates: billed for those partitions' key columns, not the table."""
        keys_table = pq.read_table(batch.path, columns=["line_key", "order_date"])
        if keys_table.num_rows == 0:
            return LineMatches(by_upload={}, lines=0, other_shops={})
        low, high = pc.min_max(keys_table.column("order_date")).values()
        staging = self.table_id(f"_keys_{uuid.uuid4().hex}")
        try:
            self._retrying("load of line keys", lambda: self._load(staging, keys_table, None, schema=keys_table.schema))
            fact = self._ref(FACT_TABLE)
            where = "order_date BETWEEN @low AND @high AND upload_id NOT IN UNNEST(@exclude)"
            hits = f"""WITH _keyed AS ({keyed_rows_sql(fact, where)}),
                _hits AS (SELECT k.store_id, k.upload_id, k.line_key FROM _keyed k
                          WHERE k.line_key IN (SELECT line_key FROM `{staging}`))"""
            params = {
                "store": store_id,
                "low": low.as_py(),
                "high": high.as_py(),
                "exclude": [str(uuid.UUID(str(u))) for u in exclude],
            }
            counts = self._query_text(hits + to_googlesql(MATCH_COUNTS), params)
            found = self._query_text(hits + to_googlesql(MATCH_KEYS), params) if keys else None
        finally:
            self.client().delete_table(staging, not_found_ok=True)
        return line_matches_of(counts, store_id=store_id, keys=found)

    def _query_text(self, sql: str, params: Mapping[str, Any]) -> pa.Table:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=query_parameters(dict(params)))
        return self._retrying(
            "query",
            lambda: self.client().query_and_wait(sql, job_config=config).to_arrow(create_bqstorage_client=False),
        )

    def delete_batch(self, *, upload_id: str) -> int:
        from google.cloud import bigquery

        upload_id = str(uuid.UUID(str(upload_id)))
        config = bigquery.QueryJobConfig(query_parameters=query_parameters({"upload_id": upload_id}))
        sql = f"DELETE FROM {self._ref(FACT_TABLE)} WHERE upload_id = @upload_id"

        def run() -> int:
            job = self.client().query(sql, job_config=config)
            job.result()
            return int(job.num_dml_affected_rows or 0)

        return self._retrying(f"delete of upload {upload_id}", run)

    # -- reads ----------------------------------------------------------------------------
    def _query_config(self, params: Mapping[str, Any] | None):
        from google.cloud import bigquery

        return bigquery.QueryJobConfig(
            default_dataset=f"{self.project}.{self.dataset}",
            query_parameters=query_parameters(dict(params or {})),
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        config, text = self._query_config(params), to_googlesql(sql)
        return self._retrying(
            "query",
            lambda: self.client().query_and_wait(text, job_config=config).to_arrow(create_bqstorage_client=False),
        )

    def query_page(
        self, sql: str, params: Mapping[str, Any] | None = None, *, start: int, size: int, result: str = ""
    ) -> ResultPage:
        """The page read from the query's result table (tabledata.list from `start`, in the
        query's ORDER BY: not a query, nothing billed). `result` is the table an earlier page
        of the same query left (anonymous result tables live about a day): read again while it
        exists, else the query runs once more and its new table is returned."""
        if result:
            try:
                return self._retrying("page of a result", lambda: self._result_page(result, start, size))
            except WarehouseError as exc:
                if not isinstance(exc.__cause__, gexc.NotFound):
                    raise
                log.info("result table %s is gone; running its query again", result)
        config, text = self._query_config(params), to_googlesql(sql)

        def run() -> str:
            job = self.client().query(text, job_config=config)
            job.result()
            found = job.destination
            return f"{found.project}.{found.dataset_id}.{found.table_id}"

        destination = self._retrying("query", run)
        return self._retrying("page of a result", lambda: self._result_page(destination, start, size))

    def _result_page(self, destination: str, start: int, size: int) -> ResultPage:
        rows = self.client().list_rows(destination, start_index=start, max_results=size)
        table = rows.to_arrow(create_bqstorage_client=False)
        return ResultPage(rows=table, total=int(rows.total_rows or 0), result=destination)

    def query_batches(
        self, sql: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """The result streamed through the BigQuery Storage Read API (Arrow record batches
        over gRPC: many times quicker than REST pages for big results; one stream when the
        query has an ORDER BY, so the order is kept). Where that API cannot be reached (an
        emulator; a project without it) the REST API pages the result instead."""
        config, text = self._query_config(params), to_googlesql(sql)

        def run():
            job = self.client().query(text, job_config=config)
            job.result()
            return job

        job = self._retrying("query", run)
        storage = self.read_client()
        if storage is not None:
            try:
                batches = job.result(page_size=batch_rows).to_arrow_iterable(bqstorage_client=storage)
                first = next(batches, None)  # the read session opens here: a refusal shows now
            except gexc.GoogleAPICallError as exc:
                log.warning("BigQuery Storage Read API refused (%s); reading the result over REST", error_reason(exc))
                self.storage_unavailable = True
            else:
                if first is not None:
                    yield from _rechunked(first, batch_rows)
                for batch in batches:
                    yield from _rechunked(batch, batch_rows)
                return
        for batch in job.result(page_size=batch_rows).to_arrow_iterable(bqstorage_client=None):
            yield from _rechunked(batch, batch_rows)

    def read_client(self):
        """The BigQuery Storage Read API's client, or None where it is not used: against an
        emulator (it serves REST only), without google-cloud-bigquery-storage, or once the
        API refused this process (it is not asked again)."""
        if self.api_endpoint or self.storage_unavailable:
            return None
        if self._read_client_obj is None or self._read_pid != os.getpid():
            try:
                from google.cloud import bigquery_storage
            except ImportError:
                return None
            self._read_client_obj = bigquery_storage.BigQueryReadClient(credentials=self.client()._credentials)
            self._read_pid = os.getpid()
        return self._read_client_obj

    def batch_rows(self, *, upload_ids: Sequence[str] | None = None) -> dict[str, int]:
        """One GoogleSQL query; it reads the upload_id column only (billed for that column
        of the table, as the table is not clustered by upload)."""
        from google.cloud import bigquery

        ids = None if upload_ids is None else [str(uuid.UUID(str(u))) for u in upload_ids]
        if ids == []:
            return {}
        where = "" if ids is None else " WHERE upload_id IN UNNEST(@ids)"
        sql = f"SELECT upload_id, count(*) AS n FROM {self._ref(FACT_TABLE)}{where} GROUP BY upload_id"
        config = bigquery.QueryJobConfig(query_parameters=query_parameters({"ids": ids} if ids is not None else {}))

        def counts() -> dict[str, int]:  # every page read inside the retries
            return {row["upload_id"]: int(row["n"]) for row in self.client().query_and_wait(sql, job_config=config)}

        return self._retrying("row count per upload", counts)

    def sql_date_trunc(self, column: str, grain: str) -> str:
        column, grain = date_trunc_checked(column, grain)
        if grain == "day":
            return column
        # WEEK alone would start weeks on Sunday; ISOWEEK starts them on Monday, as DuckDB.
        return f"DATE_TRUNC({column}, {'ISOWEEK' if grain == 'week' else 'MONTH'})"

    def ping(self) -> None:
        self._retrying("ping", lambda: self.client().get_table(self.table_id(FACT_TABLE)))

    def compact(self, *, wait: bool = True) -> dict[str, int]:
        return {}  # capabilities.compaction is False: BigQuery manages its own storage


def _rechunked(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    """The batch in record batches of at most `rows` rows (a Storage API message may hold more)."""
    if batch.num_rows <= rows:
        yield batch
        return
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def _same_sql(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", a).strip() == re.sub(r"\s+", " ", b).strip()
