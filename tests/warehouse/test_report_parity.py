"""The same files loaded into both warehouses give the same figures in every report.

Both loads go through pipeline_run, the embedded one into Delta+DuckDB, the other through
the real google-cloud-bigquery client into the local-bigquery emulator. Every selector of
the reports that takes a scope and a report filter is run for each reader, each view and
a few filters built as the pages build them, with the reads that settle a page's filter;
any figure that differs fails the test. Every query either backend runs must have been
written by the seam (apps/reports/query.py), every feature of a `Read` must be used by
some read, and each read's own rows are compared too, not only the figures made of them.
What the emulator cannot show is listed in tests/warehouse/test_bigquery.py; it also
accepts some DuckDB-only SQL that BigQuery would not (see apps/warehouse/base.py).
"""

import dataclasses
import inspect
import math
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Model, QuerySet

from apps.accounts.access import scope_for
from apps.accounts.models import Region
from apps.reports import coverage, drill, lines, query, selectors
from apps.reports.coverage import shops_in_scope
from apps.reports.filters import DataDays, ReportFilter, report_filter_parse
from apps.reports.query import Read
from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.warehouse import bigquery as bigquery_backend
from apps.warehouse.fact import MASTER_VIEW
from apps.warehouse.services import warehouse, warehouse_sync
from tests.factories import upload_loaded

pytestmark = pytest.mark.integration
FILES = [
    ("mgr_us_nyc", "US-NYC", "bernasiakk_usa.csv"),  # 2011
    ("mgr_uk_lon", "UK-LON", "online_retail_sample_sfc.csv"),  # Dec 2010 - 2011
    ("admin", "FR-PAR", "sales_data_sample_head.csv"),  # 2003 - 2005
]
READERS = ["admin", "head_uk", "mgr_us_nyc"]  # one of each role
# Custom ranges as a viewer would type them (five years at most), one per era of the
# files, each with another time grain; the last one's previous period (2010) has data.
FILTERS = [
    {"preset": "custom", "start": "2003-01-01", "end": "2005-12-31", "grain": "month"},
    {"preset": "custom", "start": "2009-12-01", "end": "2011-12-31", "grain": "week"},
    {"preset": "custom", "start": "2011-01-01", "end": "2011-12-31", "grain": "day"},
]
# DuckDB spellings that Google's BigQuery refuses or reads differently, though the
# emulator (DuckDB underneath) runs them, so that the comparison alone would not see them.
NOT_PORTABLE = {
    "FILTER clause": r"\bFILTER\s*\(\s*WHERE\b",
    "date_trunc('part', ...)": r"\bdate_trunc\s*\(\s*'",
    "grouping() of several columns": r"\bgrouping\s*\([^()]*,",
    "GROUP BY ALL": r"\bGROUP\s+BY\s+ALL\b",
    "any_value (not the same row on both)": r"\bany_value\s*\(",
    "a DuckDB-only type": r"\bAS\s+(DOUBLE|HUGEINT|UBIGINT|VARCHAR)\b",
    "strftime": r"\bstrftime\s*\(",
}
MODULES = (selectors, drill, lines, coverage)
# Shops a page's filter may check for rows in a scope: a US shop, the London shop (its file
# holds rows of several countries) and a shop with no upload.
CHECKED_SHOPS = ["US-NYC", "UK-LON", "AU-SYD"]
# Arguments, besides scope and report, of the selectors that take more.
EXTRA_ARGS = {"order_lines_page": [{"page": 1}, {"page": 2}]}


def report_selectors() -> dict:
    """Every selector of the reports: the public functions taking a scope and a report."""
    found = {}
    for module in MODULES:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            params = inspect.signature(fn).parameters
            if fn.__module__ == module.__name__ and not name.startswith("_") and {"scope", "report"} <= set(params):
                found[name] = fn
    assert {"kpi_figures", "sales_breakdown", "order_lines_page", "coverage_grid"} <= found.keys(), found
    return found


def calls(name: str, fn) -> list[dict]:
    """The keyword arguments to run `fn` with; a selector with a required argument this
    test does not know fails here, so that it is not left out silently."""
    required = {
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty and p.name not in ("scope", "report")
    }
    extra = EXTRA_ARGS.get(name, [{}])
    assert all(required <= set(kwargs) for kwargs in extra), f"{name} needs {required}: add it to EXTRA_ARGS"
    return extra


def canonical(value):
    """A comparable form: decimals and floats rounded alike, dataclasses as dicts,
    generators run, and rows (lists) in a fixed order, sorted by their canonical text.
    Tuples are records whose positions mean something: they keep their order. Rows of
    the database (shops_in_scope) are compared by primary key."""
    if isinstance(value, Model):
        return (type(value).__name__, value.pk)
    if isinstance(value, QuerySet):
        value = list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(canonical(v) for v in value)
    if inspect.isgenerator(value):
        value = list(value)
    if isinstance(value, list | set | frozenset):
        return sorted((canonical(v) for v in value), key=repr)
    if isinstance(value, Decimal | float):
        number = float(value)
        return number if math.isnan(number) else round(number, 6)
    return value


def report_filters(scope, region: Region | None) -> list[ReportFilter]:
    """The filters a page would build, fixed to a country and its view on a country page."""
    fixed = {"view": region.view_name, "country": region.country_code} if region else {}
    shops = frozenset(shops_in_scope(scope=scope).values_list("code", flat=True))
    built = []
    for params in FILTERS:
        parsed = report_filter_parse(params, scope_shops=shops, **fixed)
        report = parsed.resolve(days=DataDays(), today=date(2026, 1, 1), shop_has_rows=False)
        assert report.problems == (), report.problems
        built.append(report)
    return built


def figures(cast) -> dict:
    found = report_selectors()
    regions = [None, *Region.objects.order_by("country_code")]
    out = {}
    for reader in READERS:
        scope = scope_for(cast[reader])
        # The views a reader's pages read: the master view and their countries' (another
        # country's page is a 404 for them, so its reads never run).
        for region in [r for r in regions if r is None or scope.allows_country(r.country_code)]:
            view = region.view_name if region else MASTER_VIEW
            country = region.country_code if region else ""
            out[(reader, view, "latest_order_date")] = selectors.latest_order_date(
                scope=scope, view=view, country=country
            )
            out[(reader, view, "days_with_data")] = selectors.days_with_data(scope=scope, view=view)
            for shop in CHECKED_SHOPS if region is None else ():
                out[(reader, view, "shop_has_rows", shop)] = selectors.shop_has_rows(scope=scope, view=view, shop=shop)
            for report in report_filters(scope, region):
                for name, fn in found.items():
                    for kwargs in calls(name, fn):
                        key = (reader, view, report.start.isoformat(), report.grain, name, *sorted(kwargs.items()))
                        out[key] = canonical(fn(scope=scope, report=report, **kwargs))
    return out


class Seam:
    """Records the reads the seam writes, the SQL and methods the backend is asked to run,
    and each read's own rows (of the reads run whole or paged; a streamed read's rows are
    the lines). A read the result cache answers was run once before under the same SQL and
    parameters: its rows are that run's."""

    def __init__(self, monkeypatch) -> None:
        self.reads: list[Read] = []
        self.written: set[str] = set()
        self.ran: list[tuple[str, str]] = []
        self.rows: dict[Read, list] = {}
        self.by_statement: dict[str, set[Read]] = {}
        self.paged: set[Read] = set()  # the listings read a page at a time
        write = query.read_sql

        def read_sql(read: Read, *, backend) -> tuple[str, dict]:
            sql, params = write(read, backend=backend)
            self.reads.append(read)
            self.written.add(sql)
            self.by_statement.setdefault(_statement(sql, params), set()).add(read)
            return sql, params

        monkeypatch.setattr(query, "read_sql", read_sql)
        backend = warehouse()
        for method in ("query", "query_batches", "query_page"):
            monkeypatch.setattr(backend, method, self._spy(method, getattr(backend, method)))

    def _spy(self, method: str, run):
        def spy(sql: str, params=None, **kwargs):
            self.ran.append((method, sql))
            result = run(sql, params, **kwargs)
            reads = self.by_statement.get(_statement(sql, params or {}), set())
            if method == "query":
                for read in reads:
                    self.rows.setdefault(read, canonical(result.to_pylist()))
            elif method == "query_page":
                self.paged |= reads
                for read in reads:
                    self.rows.setdefault(read, {})[kwargs["start"]] = (result.total, canonical(result.rows.to_pylist()))
            return result

        return spy

    def check(self) -> None:
        """Every query came from the seam, every way of running one was used, and every
        feature of a Read was used by some read (a feature no read uses is not compared)."""
        assert {sql for _, sql in self.ran} <= self.written
        assert {method for method, _ in self.ran} == {"query", "query_batches", "query_page"}
        unused = [f.name for f in dataclasses.fields(Read) if all(getattr(r, f.name) == f.default for r in self.reads)]
        assert unused == []


def _statement(sql: str, params: dict) -> str:
    return repr((sql, sorted(params.items())))


def load_all(cast, sample) -> list[Upload]:
    return [upload_loaded(cast[user], shop, sample(name)) for user, shop, name in FILES]


def test_every_report_figure_is_the_same_on_both_backends(cast, sample, settings, monkeypatch, bigquery_emulator):
    uploads = load_all(cast, sample)
    assert {u.status for u in uploads} <= {Upload.Status.LOADED, Upload.Status.LOADED_WITH_ERRORS}
    seam = Seam(monkeypatch)
    embedded = figures(cast)
    seam.check()
    embedded_rows = seam.rows
    assert seam.paged and {read for read in seam.reads if not read.columns} | seam.paged == embedded_rows.keys()
    # Every era has data for the admin, and the comparison covers real figures.
    for params in FILTERS:
        kpis = embedded[("admin", MASTER_VIEW, params["start"], params["grain"], "kpi_figures")]
        assert kpis["current"]["orders"] > 0, params
    assert embedded[("admin", MASTER_VIEW, "2011-01-01", "day", "kpi_figures")]["previous"]["orders"] > 0
    weeks = embedded[("admin", MASTER_VIEW, "2009-12-01", "week", "sales_breakdown")]["over_time"]
    assert weeks and all(r["period"].weekday() == 0 for r in weeks)  # ISO weeks start on Monday
    first = embedded[("admin", MASTER_VIEW, "2009-12-01", "week", "order_lines_page", ("page", 1))]
    assert len(first["rows"]) == lines.PAGE_ROWS and first["more"] and first["page"] == 1
    # A head's own region's shop has rows in their scope; a shop with no upload has none.
    assert embedded[("head_uk", MASTER_VIEW, "shop_has_rows", "UK-LON")]
    # ... all of them, whatever the customer's country (the London file's French and
    # Australian customers); the UK view holds the UK customers' rows only.
    countries = embedded[("head_uk", MASTER_VIEW, "2009-12-01", "week", "sales_breakdown")]["by_country"]
    assert {r["country_code"] for r in countries} == {"AU", "FR", "GB"}
    assert embedded[("head_uk", MASTER_VIEW, "days_with_data")].days
    assert not embedded[("admin", MASTER_VIEW, "shop_has_rows", "AU-SYD")]

    settings.WAREHOUSE = "bigquery"
    settings.BIGQUERY_PROJECT = bigquery_emulator.project
    settings.BIGQUERY_DATASET = f"sales_{uuid.uuid4().hex[:10]}"
    settings.BIGQUERY_API_ENDPOINT = bigquery_emulator.endpoint
    settings.BIGQUERY_LOCATION = "US"
    warehouse_sync()
    for upload in uploads:
        assert pipeline_run(upload_id=upload.id, force=True).status == upload.status
    assert warehouse().name == "bigquery"

    sent: list[str] = []
    translate = bigquery_backend.to_googlesql
    monkeypatch.setattr(bigquery_backend, "to_googlesql", lambda sql: sent.append(sql) or translate(sql))
    seam = Seam(monkeypatch)
    bigquery = figures(cast)
    seam.check()
    assert len(sent) > 100
    assert set(sent) <= seam.written
    spelled = {(what, sql) for sql in sent for what, pattern in NOT_PORTABLE.items() if re.search(pattern, sql, re.I)}
    assert spelled == set()
    assert bigquery.keys() == embedded.keys()
    differences = {key: (embedded[key], bigquery[key]) for key in embedded if embedded[key] != bigquery[key]}
    assert differences == {}
    bigquery_rows = seam.rows
    assert embedded_rows.keys() <= bigquery_rows.keys()
    assert [read for read in embedded_rows if embedded_rows[read] != bigquery_rows[read]] == []
