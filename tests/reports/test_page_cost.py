"""What a report page view costs the warehouse: at most 2 queries, run at once; none when
the page is viewed again with no load in between; and a load, a delete or a replace makes
the cached figures unreachable at once (the warehouse's version, in the app database).

Every warehouse call goes through a counting wrapper around the configured warehouse (the
real embedded one underneath), for each page, role and filter that changes which reads run.
"""

import re
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client

from apps.reports import selectors
from apps.reports.filters import ReportFilter
from apps.uploads.services import upload_delete_rows
from apps.warehouse.fact import MASTER_VIEW
from apps.warehouse.services import warehouse, warehouse_version, warehouse_version_bump
from tests.reports.facts import FIRST_DAY, LAST_DAY, facts, facts_recorded  # noqa: F401 (fixture)

ROLES = ["admin", "head_uk", "mgr_us_nyc"]
PERIOD = f"preset=custom&start={LAST_DAY - timedelta(days=40)}&end={LAST_DAY}"
PAGES = {
    "master, default window": "/reports/",
    "master, all time": "/reports/?preset=all",
    "master, by week, a shop": f"/reports/?{PERIOD}&grain=week&shop=UK-LON",
    "master, another region's shop": f"/reports/?{PERIOD}&shop=US-NYC",
    "master, a product": f"/reports/?{PERIOD}&product=P-UK-LON-0",
    "master, a country": f"/reports/?{PERIOD}&country=GB",
    "master, no sales in the dates": "/reports/?preset=custom&start=2001-01-01&end=2001-02-01",
    "country page": "/reports/GB/?preset=all",
    "country page, by month, a shop": f"/reports/GB/?{PERIOD}&grain=month&shop=UK-MAN",
    "lines, first page": f"/reports/lines/?{PERIOD}",
    "lines, second page": f"/reports/lines/?{PERIOD}&page=2",
    "lines, past the last page": f"/reports/lines/?{PERIOD}&page=9999",
    "lines, nothing in the dates": "/reports/lines/?preset=custom&start=2001-01-01&end=2001-02-01&page=3",
    "coverage": f"/reports/coverage/?{PERIOD}",
    "coverage, all time": "/reports/coverage/?preset=all",
}


class Counting:
    """Counts the calls that reach the warehouse (query, page, stream), from any thread."""

    METHODS = ("query", "query_page", "query_batches")

    def __init__(self, monkeypatch) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()
        backend = warehouse()
        for method in self.METHODS:
            monkeypatch.setattr(backend, method, self._counted(method, getattr(backend, method)))

    def _counted(self, method: str, run):
        def counted(sql, params=None, **kwargs):
            with self.lock:
                self.calls.append(method)
            return run(sql, params, **kwargs)

        return counted

    def taken(self) -> int:
        with self.lock:
            n, self.calls = len(self.calls), []
        return n


def _figures(response) -> str:
    """The page without what differs per response (the CSP nonce, the CSRF token)."""
    return re.sub(r'(nonce|csrfmiddlewaretoken|value)="[^"]*"', "", response.content.decode())


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.usefixtures("facts")
@pytest.mark.parametrize("role", ROLES)
def test_a_page_view_costs_at_most_two_queries_and_none_when_viewed_again(cast, monkeypatch, role):
    counting = Counting(monkeypatch)
    client = _client(cast[role])
    for name, url in PAGES.items():
        if role == "mgr_us_nyc" and url.startswith(("/reports/GB/", "/reports/US/")):
            continue  # a manager has no country pages
        first = client.get(url)
        assert first.status_code == 200, (name, first.status_code)
        assert counting.taken() <= 2, name
        again = client.get(url)
        assert again.status_code == 200 and counting.taken() == 0, name
        assert _figures(again) == _figures(first), name


@pytest.mark.usefixtures("facts")
def test_the_dashboard_runs_its_two_reads_at_once(cast, monkeypatch):
    """Each read waits at a barrier for the other: one after the other, the first would
    wait there alone until the barrier's timeout breaks it, and the page would fail."""
    barrier = threading.Barrier(2, timeout=10)
    backend = warehouse()
    run = backend.query
    threads = set()

    def together(sql, params=None):
        threads.add(threading.get_ident())
        barrier.wait()
        return run(sql, params)

    monkeypatch.setattr(backend, "query", together)

    response = _client(cast["admin"]).get(f"/reports/?{PERIOD}")

    assert response.status_code == 200
    assert len(threads) == 2 and threading.get_ident() not in threads


@pytest.mark.usefixtures("facts")
def test_a_load_makes_the_cached_figures_unreachable(cast, monkeypatch):
    counting = Counting(monkeypatch)
    client = _client(cast["admin"])
    url = f"/reports/?{PERIOD}"
    before = client.get(url)
    assert counting.taken() == 2
    client.get(url)
    assert counting.taken() == 0
    version = warehouse_version()

    warehouse_version_bump()  # what every upload's ending does, after its warehouse commit

    assert warehouse_version() != version
    after = client.get(url)
    assert counting.taken() == 2
    assert _figures(after) == _figures(before)  # the same rows: the same figures, read again


def test_a_delete_shows_at_once_on_the_next_view(cast, monkeypatch):
    from tests.reports.facts import load_facts

    uploads = load_facts(["US-NYC", "UK-LON"])
    scope_report = {"view": MASTER_VIEW}
    report = ReportFilter(start=FIRST_DAY, end=LAST_DAY, **scope_report)
    from apps.accounts.access import scope_for

    scope = scope_for(cast["admin"])
    shops_before = {r["store_id"] for r in selectors.sales_breakdown(scope=scope, report=report).by_shop}
    assert shops_before == {"US-NYC", "UK-LON"}

    upload_delete_rows(upload_id=uploads["UK-LON"].id)  # the operator's action

    after = selectors.dashboard_figures(scope=scope, report=report)[1]
    assert {r["store_id"] for r in after.by_shop} == {"US-NYC"}
    assert not selectors.shop_has_rows(scope=scope, view=MASTER_VIEW, shop="UK-LON")


def test_a_replaced_batch_shows_at_once_on_the_next_view(cast, monkeypatch):
    from apps.accounts.access import scope_for
    from tests.reports.facts import load_facts

    uploads = load_facts(["US-NYC"])
    scope, report = scope_for(cast["admin"]), ReportFilter(start=FIRST_DAY, end=LAST_DAY)
    lines_before = selectors.kpi_figures(scope=scope, report=report)["current"]["units"]
    upload_id = str(uploads["US-NYC"].id)
    table = warehouse().query(
        'SELECT * FROM "orders-cleaned" WHERE upload_id = $u AND order_date BETWEEN $a AND $b',
        {"u": upload_id, "a": FIRST_DAY, "b": LAST_DAY},
    )
    half = table.slice(0, table.num_rows // 2)
    warehouse().replace_batch(upload_id=upload_id, table=half)
    facts_recorded(upload_id, half)  # as the load's ending records it

    assert selectors.kpi_figures(scope=scope, report=report)["current"]["units"] < lines_before


@pytest.mark.usefixtures("facts")
def test_a_result_bigger_than_the_bound_is_not_cached(cast, monkeypatch, settings):
    settings.REPORT_CACHE_MAX_BYTES = 100  # smaller than any breakdown
    counting = Counting(monkeypatch)
    client = _client(cast["admin"])

    client.get(f"/reports/?{PERIOD}")
    client.get(f"/reports/?{PERIOD}")

    assert counting.taken() == 4
    assert not any(key.startswith(":1:reports:result") for key in getattr(cache, "_cache", {}))
