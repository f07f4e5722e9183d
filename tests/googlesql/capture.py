"""Every SQL statement the app sends to BigQuery, as it was sent: its text, its typed query
parameters, the dataset unqualified names resolve in, the schemas of the other tables it
names (staging tables, read as they were when it ran), and the app path that sent it.

The recorder wraps google-cloud-bigquery's `Client.query` and `Client.query_and_wait` on the
class, so every client of the process (and every thread of it) is seen, whatever the backend
does around them. Names are made stable for the analysis: the test's project becomes
`project` and its dataset `sales` (`sales_<hex>_staging` becomes `sales_staging`), and the
random part of a staging table's name `n` (`_staging_n_n`).
"""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery

# A table named in full: `project.dataset.table` (GoogleSQL quotes the whole path).
QUALIFIED = re.compile(r"`([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\.([^`]+)`")
PROJECT, DATASET = "project", "sales"
# The random part of a staging table's name (_staging_<upload hex>_<hex>, _keys_<hex>).
HEX_RUN = re.compile(r"(?<=_)[0-9a-f]{8,}(?=[_`])")


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a GoogleSQL type: STRING, DATE, ARRAY<STRING>, ...
    value: object


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Param, ...]
    default_dataset: str | None
    # Other tables it names, as they were when it ran: name -> ((column, BigQuery type), ...).
    tables: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    path: str  # what sent it: "page admin /reports/?grain=week", "write: upload load", ...

    def key(self) -> tuple:
        """Statements that differ only in parameter values are analysed once."""
        return (self.sql, tuple((p.name, p.type) for p in self.params), self.default_dataset, self.tables)


def param_of(bound) -> Param:
    if isinstance(bound, bigquery.ArrayQueryParameter):
        return Param(bound.name, f"ARRAY<{bound.array_type}>", tuple(bound.values))
    if isinstance(bound, bigquery.ScalarQueryParameter):
        return Param(bound.name, bound.type_, bound.value)
    raise TypeError(f"A query parameter this capture does not know: {bound!r}")


@dataclass
class StatementCapture:
    project: str
    dataset: str
    statements: list[Statement] = field(default_factory=list)
    path: str = "setup"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _inside: threading.local = field(default_factory=threading.local)

    @contextmanager
    def sending(self, path: str) -> Iterator[None]:
        """Statements sent inside the block are marked as sent by `path`."""
        before, self.path = self.path, path
        try:
            yield
        finally:
            self.path = before

    def normalised(self, text: str) -> str:
        text = text.replace(f"`{self.project}.", f"`{PROJECT}.")
        text = re.sub(rf"\b{re.escape(self.dataset)}", DATASET, text)
        return re.sub(r"`[^`]*`", lambda quoted: HEX_RUN.sub("n", quoted.group()), text)

    def record(self, client, sql: str, job_config) -> None:
        params = tuple(param_of(p) for p in (getattr(job_config, "query_parameters", None) or []))
        default = getattr(job_config, "default_dataset", None)
        statement = Statement(
            sql=self.normalised(sql),
            params=params,
            default_dataset=self.normalised(str(default)) if default else None,
            tables=self._other_tables(client, sql),
            path=self.path,
        )
        with self._lock:
            self.statements.append(statement)

    def _other_tables(self, client, sql: str) -> tuple:
        """The schemas of the tables the statement names in full, as they are now: staging
        tables exist only while they are used, and the fact table gains the columns an admin
        adds (views are left out: the analysis gives them the fact table's columns)."""
        found = {}
        for project, dataset, name in set(QUALIFIED.findall(sql)):
            try:
                table = client.get_table(f"{project}.{dataset}.{name}")
            except gexc.NotFound:  # made by this statement (CREATE ... AS)
                continue
            if table.table_type != "TABLE":
                continue
            columns = tuple((f.name, f.field_type) for f in table.schema)
            found[self.normalised(f"`{project}.{dataset}.{name}`").strip("`")] = columns
        return tuple(sorted(found.items()))

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Record every statement sent through any client of this process from now on."""
        for method in ("query", "query_and_wait"):
            monkeypatch.setattr(bigquery.Client, method, self._recording(getattr(bigquery.Client, method)))

    def _recording(self, send):
        capture = self

        def recording(client, query, *args, **kwargs):
            # A method of the client may call another: the statement is recorded once.
            if not getattr(capture._inside, "depth", 0):
                capture.record(client, query, kwargs.get("job_config") or (args[0] if args else None))
            capture._inside.depth = getattr(capture._inside, "depth", 0) + 1
            try:
                return send(client, query, *args, **kwargs)
            finally:
                capture._inside.depth -= 1

        return recording


def statements_read(path) -> list[Statement]:
    """Statements written by the capture (SQL_CAPTURE_OUT, tests/googlesql/conftest.py)."""
    import json

    with open(path) as fh:
        found = json.load(fh)
    return [
        Statement(
            sql=s["sql"],
            params=tuple(Param(p["name"], p["type"], p["value"]) for p in s["params"]),
            default_dataset=s["default_dataset"],
            tables=tuple((name, tuple(tuple(c) for c in columns)) for name, columns in s["tables"]),
            path=s["path"],
        )
        for s in found
    ]
