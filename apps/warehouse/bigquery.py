"""The BigQuery warehouse: dataset `sales`, table `orders-cleaned`, one view per region.

A batch is loaded as the seed's Cloud Function did (a load job from parquet), but into a
staging table of its own dataset (`<dataset>_staging`, tables expire after a day) first;
then one MERGE applies every waiting batch at once (group commit: apps/warehouse/commits.py,
bigquery_merge.py), so a reader sees the old batch or the new one, never half, running it
again changes nothing, and many workers loading at once never abort each other.

Google's clients are not fork-safe: the client is made on first use in each process.
"""

import io
import logging
import os
import random
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from google.api_core import exceptions as gexc

from apps.warehouse.base import (
    MATCH_COUNTS,
    MATCH_KEYS,
    UNKNOWN_SPAN,
    BatchSource,
    Capabilities,
    DateSpan,
    LineMatches,
    Mismatch,
    ParquetBatch,
    ResultPage,
    WarehouseBusy,
    WarehouseError,
    date_trunc_checked,
    line_matches_of,
    removal_span,
    span_of,
)
from apps.warehouse.bigquery_dialect import (
    column_type,
    error_reason,
    is_transient,
    query_parameters,
    schema_fields,
    to_googlesql,
)
from apps.warehouse.bigquery_merge import merge_sql
from apps.warehouse.commits import (
    APPLIED,
    FAILED,
    GROUP_CAP,
    KEEP_FINISHED_SECONDS,
    SUPERSEDED,
    Commits,
    FileCommits,
    Pending,
    latest_per_upload,
)
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE, ViewSpec
from apps.warehouse.row_access import MANAGED_PREFIXES, RowAccessPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

PARTITION_FIELD = "order_date"
CLUSTERING_FIELDS = ["country_code", "store_id", "product_id"]
STAGING_TTL = timedelta(days=1)  # the staging dataset's default: what a killed worker left expires
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
        row_access=True,
    )

    def __init__(
        self,
        *,
        project: str,
        dataset: str,
        api_endpoint: str = "",
        retry_delay: float = 1.0,
        location: str = "",
        commits: Commits | None = None,
    ) -> None:
        self._project = project
        self.dataset = dataset
        # Who applies staged batches, and the writer lock (apps/warehouse/commits.py): the app
        # database's (services.py); without one, a folder shared by this host's processes.
        self.commits = commits or FileCommits(Path(tempfile.gettempdir()) / f"bigquery-commits-{project}-{dataset}")
        self._staging_made = False
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

    @property
    def staging_dataset(self) -> str:
        return f"{self.dataset}_staging"

    def staging_id(self, name: str) -> str:
        return f"{self.project}.{self.staging_dataset}.{name}"

    def _staging_ready(self) -> None:
        """The staging dataset exists (made once per process): beside the fact dataset, in
        its location, its tables expiring after STAGING_TTL."""
        if not self._staging_made:
            self._retrying("staging dataset", lambda: self._staging_dataset(dry_run=False))
            self._staging_made = True

    def _staging_dataset(self, dry_run: bool) -> list[str]:
        from google.cloud import bigquery

        dataset_id = f"{self.project}.{self.staging_dataset}"
        try:
            self.client().get_dataset(dataset_id)
            return []
        except gexc.NotFound:
            pass
        if not dry_run:
            wanted = bigquery.Dataset(dataset_id)
            wanted.location = self.location or None
            wanted.default_table_expiration_ms = int(STAGING_TTL.total_seconds() * 1000)
            self.client().create_dataset(wanted, exists_ok=True)
        return [f"create dataset {dataset_id} (tables expire after {STAGING_TTL})"]

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
    def ensure_schema(
        self, *, views: Sequence[ViewSpec], added: Sequence[pa.Field] = (), dry_run: bool = False
    ) -> list[str]:
        return self._retrying("schema sync", lambda: self._ensure_schema(views, added, dry_run))

    def _ensure_schema(self, views: Sequence[ViewSpec], added: Sequence[pa.Field], dry_run: bool) -> list[str]:
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
        columns = fact_fields(added)
        changes += self._ensure_fact_table(columns, dry_run)
        changes += self._staging_dataset(dry_run)
        names = [f.name for f in self._table_fields(columns)]
        for view in views:
            changes += self._ensure_view(view, names, dry_run)
        return changes

    def _table_fields(self, columns: list) -> list:
        """The fact table's columns as they are (or, not made yet, as they will be), with the
        wanted ones it lacks after them: what a view made now selects."""
        table = self._get(self.table_id(FACT_TABLE))
        fields = list(table.schema) if table is not None else []
        have = {f.name for f in fields}
        return fields + [f for f in columns if f.name not in have]

    def _ensure_view(self, view: ViewSpec, columns: list[str], dry_run: bool) -> list[str]:
        """Make the view again where its SQL differs, or its columns do: a view keeps the
        columns the table had when it was made (Looker Studio reads that list)."""
        wanted = self._view_sql(view)
        current = self._get(self.table_id(view.name))
        if current is None:
            why = ""
        else:
            why = view_staleness(current, wanted, columns)
            if not why:
                return []
        if not dry_run:
            self.client().query_and_wait(f"CREATE OR REPLACE VIEW {self._ref(view.name)} AS {wanted}")
        return [f"create view {view.name}" if current is None else f"replace view {view.name} ({why})"]

    def _ensure_fact_table(self, columns: list, dry_run: bool) -> list[str]:
        from google.cloud import bigquery

        client, fact_id = self.client(), self.table_id(FACT_TABLE)
        table = self._get(fact_id)
        if table is None:
            if not dry_run:
                table = bigquery.Table(fact_id, schema=columns)
                table.time_partitioning = bigquery.TimePartitioning(
                    type_=bigquery.TimePartitioningType.DAY, field=PARTITION_FIELD
                )
                table.clustering_fields = CLUSTERING_FIELDS
                # Every query must bound order_date: an unbounded one is refused, not billed for the table.
                table.require_partition_filter = True
                client.create_table(table, exists_ok=True)
            return [
                f"create table {FACT_TABLE} (partitioned by {PARTITION_FIELD}, clustered by {CLUSTERING_FIELDS}, "
                "partition filter required)"
            ]
        partitioning = table.time_partitioning
        if partitioning is None or partitioning.field != PARTITION_FIELD or partitioning.type_ != "DAY":
            raise WarehouseError(
                f"Table {fact_id} is not partitioned by day on {PARTITION_FIELD}, and BigQuery cannot change "
                "partitioning in place: copy it into a new table created by warehouse_sync."
            )
        changes, fields = column_differences(table.schema, columns)
        updates = []
        if len(fields) != len(table.schema):
            table.schema, updates = fields, [*updates, "schema"]
        if list(table.clustering_fields or []) != CLUSTERING_FIELDS:
            changes.append(f"cluster {FACT_TABLE} by {CLUSTERING_FIELDS}")
            table.clustering_fields, updates = CLUSTERING_FIELDS, [*updates, "clustering_fields"]
        if not table.require_partition_filter:
            changes.append(f"require a partition filter ({PARTITION_FIELD}) on queries of {FACT_TABLE}")
            table.require_partition_filter, updates = True, [*updates, "require_partition_filter"]
        if updates and not dry_run:
            client.update_table(table, updates)
        return changes

    # -- row access -----------------------------------------------------------------------
    def row_access_sync(self, *, policies: Sequence[RowAccessPolicy], dry_run: bool = False) -> list[str]:
        """Make the fact table's row access policies these (warehouse_sync's own, by name
        prefix; any other policy is left alone): each one missing or with another filter is
        created or replaced, then each of ours not wanted (a region deleted, a group changed:
        its name carries the grantees) is dropped. Created before dropped, so the TRUE filter
        of the app's account is never missing while another policy exists."""
        return self._retrying("row access sync", lambda: self._row_access_sync(policies, dry_run))

    def _row_access_sync(self, policies: Sequence[RowAccessPolicy], dry_run: bool) -> list[str]:
        existing = self.row_access_filters()
        table, changes = self._ref(FACT_TABLE), []
        for policy in policies:
            if policy.name in existing and _same_sql(existing[policy.name], policy.predicate):
                continue
            verb = "replace" if policy.name in existing else "create"
            members = ", ".join(policy.grantees)
            changes.append(f"{verb} row access policy {policy.name} for {members}: {policy.predicate}")
            if not dry_run:
                self.client().query_and_wait(create_row_access_policy_sql(policy, table))
        wanted = {p.name for p in policies}
        for name in sorted(existing):
            if name not in wanted and name.startswith(MANAGED_PREFIXES):
                changes.append(f"drop row access policy {name}")
                if not dry_run:
                    self.client().query_and_wait(f"DROP ROW ACCESS POLICY IF EXISTS {name} ON {table}")
        return changes

    def row_access_filters(self) -> dict[str, str]:
        """The fact table's row access policies: name -> filter (REST rowAccessPolicies.list;
        it does not return grantees). The Python client has no method for it, so the request
        goes through the client's own authorised connection."""
        path = f"/projects/{self.project}/datasets/{self.dataset}/tables/{FACT_TABLE}/rowAccessPolicies"
        found, token = {}, None
        while True:
            page = self.client()._connection.api_request(
                method="GET", path=path, query_params={"pageToken": token} if token else {}
            )
            for policy in page.get("rowAccessPolicies", []):
                found[policy["rowAccessPolicyReference"]["policyId"]] = policy.get("filterPredicate", "")
            token = page.get("nextPageToken")
            if not token:
                return found

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
        removes: "Sequence[DateSpan | None] | None" = None,
    ) -> int:
        """Stage the batch (a load job into the staging dataset), record it as pending, then
        return once a writer, this one or another, has applied it (apps/warehouse/commits.py):
        the upload is loaded only once its rows are in the table."""
        pending, rows = self.stage(
            upload_id=upload_id, table=table, retire=retire, source_uri=source_uri, displace=displace, removes=removes
        )
        if isinstance(table, ParquetBatch):
            table.committing()
        self.apply_pending(pending)
        return rows

    def stage(
        self,
        *,
        upload_id: str,
        table: "pa.Table | BatchSource",
        retire: Sequence[str] = (),
        source_uri: str | None = None,
        displace: Sequence[str] = (),
        removes: "Sequence[DateSpan | None] | None" = None,
    ) -> tuple[Pending, int]:
        """The batch loaded into a staging table and recorded as waiting to be applied; how
        many rows it holds."""
        upload_id = str(uuid.UUID(str(upload_id)))
        if callable(table) and not isinstance(table, ParquetBatch):  # one load job takes the whole batch
            table = table().read_all()
        span, stores = _batch_span(table)
        staging = self.staging_id(f"_staging_{upload_id.replace('-', '')}_{uuid.uuid4().hex[:8]}")
        self._staging_ready()
        rows = self._retrying(f"load of upload {upload_id}", lambda: self._load(staging, table, source_uri))
        pending = Pending(
            upload_id=upload_id,
            staging=staging,
            span=span,
            # A run that died after its apply left rows its upload does not know of: their days too.
            removes=_known(removal_span(removes), *self.commits.loaded_spans(upload_id)),
            retired=tuple(str(uuid.UUID(str(r))) for r in retire),
            displaced=tuple(str(uuid.UUID(str(r))) for r in displace),
            stores=stores,
        )
        self.commits.record(pending)
        return pending, rows

    def apply_pending(self, pending: Pending) -> None:
        """Wait for the writer lock; holding it, apply every waiting batch unless ours is
        applied already. A batch another writer left (it died) is applied with the rest."""
        while True:
            with self.commits.writer():
                mine = self.commits.get(pending.id)
                if mine is None or mine.state == APPLIED:
                    return
                if mine.state == FAILED:
                    raise WarehouseError(mine.error)
                if mine.state == SUPERSEDED:
                    raise WarehouseError(f"upload {pending.upload_id} was staged again by a later run")
                self._apply_group(self.commits.waiting(GROUP_CAP))
                self.commits.prune(older_than=time.time() - KEEP_FINISHED_SECONDS)

    def _apply_group(self, group: Sequence[Pending]) -> None:
        """One MERGE for the group, retried on transient faults from the staged tables (the
        ETL is not run again; WarehouseBusy once retries are spent leaves them pending). A
        group that fails for good is split: each batch applied alone, so one bad upload
        fails alone, with its reason, and the others load."""
        kept, stale = latest_per_upload(group)
        for pending in stale:
            self.commits.mark(pending, SUPERSEDED)
        self.commits.attempt(kept)
        try:
            self._retrying(f"apply of {len(kept)} upload(s)", lambda: self._merge(kept))
        except WarehouseError as exc:
            if len(kept) > 1:
                log.warning("BigQuery apply of %s uploads failed (%s): applying each alone", len(kept), exc)
                for pending in kept:
                    self._apply_group([pending])
                return
            self.commits.mark(kept[0], FAILED, error=str(exc))
            self._drop(kept[0].staging)
            return
        for pending in kept:
            self.commits.mark(pending, APPLIED)
            self._drop(pending.staging)

    def _merge(self, group: Sequence[Pending]) -> None:
        from google.cloud import bigquery

        # Staged types follow the parquet file (a naive time is DATETIME there): each column
        # is cast to the fact table's type. Fields an admin added become NULLABLE columns of
        # the table first (older rows read NULL), then are inserted as staged.
        staged = [self._columns_added(p.staging) for p in group]
        fact = self.client().get_table(self.table_id(FACT_TABLE))
        columns = [(f.name, f.field_type) for f in fact.schema]
        built = merge_sql(self._ref(FACT_TABLE), group, columns, staged, keyed_rows_sql)
        if built is None:
            return
        sql, params = built
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))
        self.client().query(sql, job_config=config).result()

    def _drop(self, table_id: str) -> None:
        try:
            self.client().delete_table(table_id, not_found_ok=True)
        except Exception:  # the staging dataset's tables expire by themselves anyway
            log.warning("could not drop staging table %s", table_id, exc_info=True)

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
        job.result()  # the staging dataset's default expiration removes what a dead worker leaves
        return int(job.output_rows or 0)

    def _columns_added(self, staging: str) -> set[str]:
        """The staged table's columns; those beyond the canonical ones are added to the fact
        table as NULLABLE columns where it lacks them (older rows read NULL), and the views
        made again."""
        client = self.client()
        schema = client.get_table(staging).schema
        staged = [f for f in schema if f.name not in FACT_SCHEMA.names]
        if staged:
            fact = client.get_table(self.table_id(FACT_TABLE))
            # A naive file time is staged as DATETIME; the fact table keeps times as TIMESTAMP
            # (bigquery_dialect.column_type), as warehouse_sync adds such a field.
            wanted = [_nullable(f.name, "TIMESTAMP" if f.field_type == "DATETIME" else f.field_type) for f in staged]
            _, fields = column_differences(fact.schema, wanted)
            if len(fields) != len(fact.schema):
                fact.schema = fields
                client.update_table(fact, ["schema"])
                self._views_refresh()
        return {f.name for f in schema}

    def _views_refresh(self) -> None:
        """The dataset's views made again as they are: a view keeps the schema it had when
        made (Looker Studio reads that), so a column added to the table shows in it only then."""
        client = self.client()
        for item in client.list_tables(f"{self.project}.{self.dataset}"):
            if item.table_type == "VIEW":
                view = client.get_table(item.reference)
                client.query_and_wait(f"CREATE OR REPLACE VIEW {self._ref(item.table_id)} AS {view.view_query}")

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
        staging = self.staging_id(f"_keys_{uuid.uuid4().hex}")
        self._staging_ready()
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

    def delete_batch(self, *, upload_id: str, span: DateSpan | None = None) -> int:
        """One DELETE bounded by the rows' days (`span`; None: unknown, UNKNOWN_SPAN), run
        under the writer lock, so this app never has two statements mutating the table at
        once; a pending apply of the upload is withdrawn first (it must not bring rows back)."""
        from google.cloud import bigquery

        upload_id = str(uuid.UUID(str(upload_id)))
        bound = span_of(span or UNKNOWN_SPAN, *self.commits.loaded_spans(upload_id))
        params = {"upload_id": upload_id, "first": bound.first, "last": bound.last}
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))
        sql = (
            f"DELETE FROM {self._ref(FACT_TABLE)} WHERE order_date BETWEEN @first AND @last AND upload_id = @upload_id"
        )

        def run() -> int:
            job = self.client().query(sql, job_config=config)
            job.result()
            return int(job.num_dml_affected_rows or 0)

        with self.commits.writer():
            for pending in self.commits.waiting(limit=10_000):
                if pending.upload_id == upload_id:
                    self.commits.mark(pending, SUPERSEDED)
                    self._drop(pending.staging)
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

    def batch_rows(self, *, upload_ids: Sequence[str] | None = None, span: DateSpan | None = None) -> dict[str, int]:
        """One GoogleSQL query; it reads the upload_id and order_date columns of the span's
        partitions only (the table is not clustered by upload; an unknown span reads them all)."""
        from google.cloud import bigquery

        ids = None if upload_ids is None else [str(uuid.UUID(str(u))) for u in upload_ids]
        if ids == []:
            return {}
        span = span or UNKNOWN_SPAN
        where = "order_date BETWEEN @lo AND @hi" + ("" if ids is None else " AND upload_id IN UNNEST(@ids)")
        sql = f"SELECT upload_id, count(*) AS n FROM {self._ref(FACT_TABLE)} WHERE {where} GROUP BY upload_id"
        params = {"lo": span.first, "hi": span.last, **({"ids": ids} if ids is not None else {})}
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params))

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


def _known(*spans: DateSpan | None) -> DateSpan | None:
    """The union of the spans given (None: no span, here: nothing there)."""
    return span_of(*(s for s in spans if s is not None))


def _batch_span(table: "pa.Table | ParquetBatch") -> tuple[DateSpan | None, tuple[str, ...]]:
    """The batch's order days and shops, from its file's two columns (None: no rows)."""
    found = pq.read_table(table.path, columns=["order_date", "store_id"]) if isinstance(table, ParquetBatch) else table
    if found.num_rows == 0:
        return None, ()
    low, high = pc.min_max(found.column("order_date")).values()
    stores = tuple(sorted(str(s) for s in pc.unique(found.column("store_id")).to_pylist() if s is not None))
    return DateSpan(low.as_py(), high.as_py()), stores


def create_row_access_policy_sql(policy: RowAccessPolicy, table: str) -> str:
    """The DDL of one policy (its name, members and predicate checked by RowAccessPolicy; the
    name is a plain identifier, unquoted: the emulator would keep backticks as part of it)."""
    grantees = ", ".join(f'"{member}"' for member in policy.grantees)
    return (
        f"CREATE OR REPLACE ROW ACCESS POLICY {policy.name} ON {table} "
        f"GRANT TO ({grantees}) FILTER USING ({policy.predicate})"
    )


def _rechunked(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    """The batch in record batches of at most `rows` rows (a Storage API message may hold more)."""
    if batch.num_rows <= rows:
        yield batch
        return
    for offset in range(0, batch.num_rows, rows):
        yield batch.slice(offset, rows)


def _same_sql(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", a).strip() == re.sub(r"\s+", " ", b).strip()


# The REST API answers with the legacy names of some types.
_LEGACY_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "RECORD": "STRUCT"}


def standard_type(field_type: str) -> str:
    return _LEGACY_TYPES.get(field_type.upper(), field_type.upper())


def _nullable(name: str, field_type: str):
    from google.cloud import bigquery

    return bigquery.SchemaField(name, field_type, mode="NULLABLE")


def fact_fields(added: Sequence[pa.Field] = ()) -> list:
    """The fact table's columns: the canonical ones, then the admin's added fields (NULLABLE)."""
    canonical = schema_fields(FACT_SCHEMA)
    extra = [f for f in added if f.name not in FACT_SCHEMA.names]
    return canonical + [_nullable(f.name, column_type(f.type)) for f in extra]


def column_differences(have: Sequence, wanted: Sequence) -> tuple[list[str], list]:
    """What differs between the table's columns (`have`) and the `wanted` ones: each column
    it lacks (added after the others, NULLABLE: the only change BigQuery makes in place),
    and each of another type (a Mismatch: BigQuery cannot change it in place). Returns the
    differences and the table's columns with the missing ones added."""
    found = {f.name: f for f in have}
    changes: list[str] = []
    fields = list(have)
    for field in wanted:
        current = found.get(field.name)
        if current is None:
            changes.append(f"add column {field.name} {standard_type(field.field_type)} to {FACT_TABLE}")
            fields.append(field)
        elif standard_type(current.field_type) != standard_type(field.field_type):
            changes.append(
                Mismatch(
                    f"column {field.name} of {FACT_TABLE} is {standard_type(current.field_type)}, the app writes "
                    f"{standard_type(field.field_type)}: BigQuery cannot change a column's type in place; copy the "
                    "table with the column cast (CREATE TABLE ... AS SELECT), or give the schema field another name"
                )
            )
    return changes, fields


def view_staleness(view, sql: str, columns: Sequence[str]) -> str:
    """Why the view must be made again ("" if it need not): its SQL is not the app's, or its
    columns are not the table's (a view made before a column was added lacks it)."""
    if not _same_sql(view.view_query or "", sql):
        return "its SQL differs"
    have = [f.name for f in view.schema or []]
    lacking = [c for c in columns if c not in have]
    if lacking:
        return f"it lacks {', '.join(lacking)}"
    if have and have != list(columns):
        return "its columns differ from the table's"
    return ""
