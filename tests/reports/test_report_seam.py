"""The report path's shape: one way into a report view, one module that writes and runs
report SQL, and a filter parsed without asking the warehouse anything."""

import ast
import re
from pathlib import Path

import pytest
from django.http import HttpResponse, QueryDict
from django.test import RequestFactory

from apps.accounts.access import scope_for
from apps.accounts.models import Region
from apps.reports import pages, selectors, urls, views
from apps.warehouse import services
from tests.factories import user_create

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "apps"
SEAM = APPS / "reports" / "query.py"
# SQL words and `$name` parameters, as they appear in SQL text (docstrings are prose).
SQL = re.compile(r"\b(SELECT|FROM|WHERE|GROUP BY|ORDER BY|HAVING|LIMIT|BETWEEN|IN|AND|OR|TRUE|FALSE)\b|\$[A-Za-z_]")


def _modules(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "migrations" not in p.parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _strings(tree: ast.Module) -> list[str]:
    """Every string constant of a module (f-strings' fixed parts included), docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def _calls(tree: ast.Module, names: set[str]) -> list[int]:
    """Lines calling a function or method by one of these names."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in names:
                found.append(node.lineno)
    return found


# -- one module writes and runs report SQL -------------------------------------------------


def _warehouse_reads(tree: ast.Module) -> list[int]:
    """Lines that query the warehouse: `.query` on `warehouse()` or on a name bound to it
    (a report filter has a `.query` of its own: its query string), or any `.query_batches`
    or `.sql_date_trunc`."""
    bound = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and _is_warehouse_call(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver, name = node.func.value, node.func.attr
            on_warehouse = _is_warehouse_call(receiver) or (isinstance(receiver, ast.Name) and receiver.id in bound)
            if name in ("query_batches", "sql_date_trunc") or (name == "query" and on_warehouse):
                found.append(node.lineno)
    return found


def _is_warehouse_call(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "warehouse"


def test_no_module_of_apps_but_the_seam_queries_the_warehouse():
    """The backends themselves (and the operator's warehouse_sql command) live in
    apps/warehouse; everything else reads through apps/reports/query.py."""
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _modules(APPS)
        if path != SEAM and not path.is_relative_to(APPS / "warehouse")
        for line in _warehouse_reads(_tree(path))
    ]

    assert offenders == []
    assert _warehouse_reads(_tree(SEAM))  # the seam's own reads are seen, so others would be


def test_no_report_module_but_the_seam_writes_sql_or_reaches_the_warehouse():
    offenders = []
    for path in _modules(APPS / "reports"):
        if path == SEAM:
            continue
        tree = _tree(path)
        offenders += [f"{path.name}: {text!r}" for text in _strings(tree) if SQL.search(text)]
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        offenders += [f"{path.name} imports apps.warehouse.services"] if "apps.warehouse.services" in imported else []

    assert offenders == []


def test_the_seam_is_where_report_sql_is_written():
    """The check above reads the seam's own strings as SQL: it would see SQL moved elsewhere."""
    assert any(SQL.search(text) for text in _strings(_tree(SEAM)))


def test_accounts_access_holds_no_sql():
    path = APPS / "accounts" / "access.py"
    tree = _tree(path)

    assert [text for text in _strings(tree) if SQL.search(text)] == []
    assert "warehouse" not in {n.module.split(".")[1] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and
                               n.module and n.module.startswith("apps.")}  # fmt: skip
    assert not [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and "predicate" in n.name]


# -- one way into a report view ------------------------------------------------------------


def test_every_report_url_goes_through_the_one_scope_decorator():
    callbacks = {pattern.name: pattern.callback for pattern in urls.urlpatterns}

    assert callbacks
    assert [name for name, view in callbacks.items() if not getattr(view, "report_scoped", False)] == []


def test_only_the_decorator_asks_for_the_scope_in_the_report_views():
    assert len(_calls(_tree(APPS / "reports" / "views.py"), {"scope_for"})) == 1


def test_the_decorator_passes_the_scope_or_answers_403_with_the_no_access_page(cast):
    seen = []

    @views.report_view
    def page(request, *, scope):
        seen.append(scope)
        return HttpResponse("figures")

    factory = RequestFactory()
    allowed, denied, posted = factory.get("/r/"), factory.get("/r/"), factory.post("/r/")
    allowed.user, posted.user = cast["head_uk"], cast["head_uk"]
    denied.user = user_create("drifter", role="")

    assert page(allowed).content == b"figures" and seen == [scope_for(cast["head_uk"])]
    refused = page(denied)
    assert refused.status_code == 403 and b"No reports for your account yet" in refused.content
    assert page(posted).status_code == 405 and len(seen) == 1


# -- parsing the filter asks the warehouse nothing -----------------------------------------


class NoWarehouse:
    """A warehouse stand-in that fails on any query."""

    name = "none"

    def query(self, *args, **kwargs):
        raise AssertionError("the warehouse was queried")

    query_batches = query

    def sql_date_trunc(self, column: str, grain: str) -> str:
        return column


@pytest.fixture
def no_warehouse(monkeypatch):
    monkeypatch.setattr(services, "_warehouse", lambda *args: NoWarehouse())


def test_parsing_the_filter_runs_no_warehouse_query(cast, no_warehouse):
    scope = scope_for(cast["head_fr"])
    params = QueryDict("preset=quarter&grain=week&shop=UK-LON&product=P1")

    parsed = pages.report_filter_parsed(scope=scope, params=params, region=Region.objects.get(country_code="FR"))

    assert (parsed.preset, parsed.grain, parsed.view, parsed.country) == ("quarter", "week", "France_Sales_View", "FR")
    assert (parsed.shop, parsed.shop_unchecked, parsed.product) == ("UK-LON", True, "P1")
    # Settling it (the days with data, whether the shop has rows in the scope) reads the app
    # database only; the stand-in fails any warehouse read, as it fails the page's figures.
    report = pages.report_filter_resolve(scope=scope, parsed=parsed)
    assert report.view == "France_Sales_View"
    with pytest.raises(AssertionError, match="queried"):
        selectors.kpi_figures(scope=scope, report=report)
