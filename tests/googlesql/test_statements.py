"""Issue 19, point 7: what the emulator hides, checked on every statement the app sends.

The emulator runs GoogleSQL on DuckDB: it accepts some SQL Google's servers refuse, and it
neither prunes partitions nor enforces require_partition_filter. So every statement captured
over every report page, role, grain and filter and every write path (conftest.py, drive.py)
is analysed by Google's ZetaSQL analyzer with its typed parameters, and each scan of the fact
table or its views must bound order_date in a way BigQuery prunes partitions with.
"""

import pytest

from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from apps.warehouse.services import warehouse
from tests.googlesql.analysis import Refused, analysed, unbounded_scans, view_names
from tests.googlesql.capture import DATASET, PROJECT, Param, Statement

pytestmark = [pytest.mark.django_db, pytest.mark.integration]
# Paths the capture must have gone through, so that a step silently dropped fails here.
PATHS = [
    "write: warehouse_sync create",
    "write: warehouse_sync upgrade",
    "write: upload load",
    "write: replacement (retire)",
    "write: overlap replace (displace)",
    "write: admin-added field",
    "write: delete",
    "write: reconcile (batch_rows)",
    "page admin /reports/",
    "page head_uk /reports/GB/",
    "page mgr_us_nyc /reports/lines/?page=2",
    # The coverage page is driven too, but sends nothing: it reads the app database only.
    "page admin /reports/export/lines.csv",
]


def unique(statements):
    seen, found = set(), []
    for statement in statements:
        if statement.key() not in seen:
            seen.add(statement.key())
            found.append(statement)
    return found


@pytest.fixture(scope="module")
def resolved(captured):
    """Each distinct statement with its resolved trees, and the refusals."""
    views, trees, refused = view_names(captured), [], []
    for statement in unique(captured):
        try:
            trees.append((statement, analysed(statement, views)))
        except Refused as exc:
            refused.append(str(exc))
    return views, trees, refused


def test_the_capture_covers_every_path(captured):
    paths = {s.path for s in captured}
    missing = [p for p in PATHS if not any(path.startswith(p) for path in paths)]
    assert missing == []
    # Each role reached each kind of page.
    for reader in ("admin", "head_uk", "mgr_us_nyc"):
        assert {p.split("?")[0] for p in paths if p.startswith(f"page {reader} ")} >= {
            f"page {reader} /reports/",
            f"page {reader} /reports/lines/",
            f"page {reader} /reports/export/lines.csv",
        }


def test_every_statement_is_valid_googlesql(resolved):
    views, trees, refused = resolved
    assert refused == [], "\n\n".join(refused)
    assert len(trees) > 50 and {MASTER_VIEW, "UK_Sales_View", "JP_Sales_View"} <= views


def test_the_analyzer_refuses_what_bigquery_refuses(captured):
    """The check can fail: a DuckDB spelling the emulator runs, a wrong type, an unknown column."""
    views, base = view_names(captured), next(s for s in captured if s.path.startswith("page admin"))
    for sql in (
        f"SELECT count(*) FILTER (WHERE quantity > 0) FROM `{MASTER_VIEW}`",
        f"SELECT date_trunc('month', order_date) FROM `{MASTER_VIEW}`",
        f"SELECT no_such_column FROM `{MASTER_VIEW}`",
        f"SELECT 1 FROM `{FACT_TABLE}` WHERE order_date = @no_such_parameter",
        f"SELECT CAST(quantity AS INT32) FROM `{FACT_TABLE}`",  # internal mode only: BigQuery has no INT32
        f"SELECT CAST(quantity AS DOUBLE) FROM `{FACT_TABLE}`",  # a DuckDB type name
    ):
        with pytest.raises(Refused):
            analysed(type(base)(sql, (), base.default_dataset, (), "probe"), views)


def probe(sql: str, **types) -> Statement:
    params = tuple(Param(name, kind, None) for name, kind in types.items())
    return Statement(sql, params, f"{PROJECT}.{DATASET}", (), "probe")


@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("order_date BETWEEN @low AND @high AND upload_id = @u", None),
        ("order_date >= DATE_SUB(@high, INTERVAL 7 DAY) AND order_date < @high", None),
        ("order_date IN UNNEST(@days)", None),
        ("(order_date = @low OR order_date = @high)", None),
        ("upload_id = @u", "order_date not filtered"),
        ("(order_date = @low OR upload_id = @u)", "not compared with a constant"),
        (f"order_date >= (SELECT min(order_date) FROM `{FACT_TABLE}` WHERE order_date > @low)", "not compared"),
        ("order_date = DATE(loaded_at)", "not compared with a constant"),
    ],
)
def test_the_bound_check_tells_a_pruning_filter_from_others(where, why):
    """Only a comparison of order_date with constants or parameters counts (BigQuery prunes
    with constant expressions, not with a subquery's or another column's values)."""
    statement = probe(
        f"SELECT count(*) FROM `{MASTER_VIEW}` WHERE {where}",
        low="DATE", high="DATE", u="STRING", days="ARRAY<DATE>",
    )  # fmt: skip
    found = [
        w for _, tree in analysed(statement, frozenset({MASTER_VIEW})) for w in unbounded_scans(tree, {MASTER_VIEW})
    ]
    assert (found == []) if why is None else (len(found) == 1 and why in found[0]), found


def test_every_scan_of_the_fact_table_has_an_order_date_bound(resolved):
    views, trees, _ = resolved
    offenders = sorted(
        {
            f"{statement.path.split('?')[0]}: {why}\n    {' '.join(text.split())[:200]}"
            for statement, statements in trees
            for text, tree in statements
            for why in unbounded_scans(tree, views)
        }
    )
    assert offenders == [], "\n".join(offenders)


def test_the_fact_table_requires_a_partition_filter(bigquery):
    wh = warehouse()
    wh.ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    assert wh.client().get_table(wh.table_id(FACT_TABLE)).require_partition_filter is True
