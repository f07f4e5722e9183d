"""apps/reports/query.py: a report read described as data, and the SQL written for it.

The scope's predicate (moved here from accounts.access) is checked for each role; a Read's
SQL binds every value and takes identifiers only from the fact table's columns. Whether
the SQL gives the same figures on both backends is tests/warehouse/test_report_parity.py.
"""

from datetime import date

import pytest

from apps.accounts.access import NO_ACCESS, Scope, scope_for
from apps.accounts.models import Region, Shop
from apps.reports.filters import ReportFilter
from apps.reports.query import PERIOD, Measure, Read, read_sql, report_read, scope_predicate
from apps.warehouse.bigquery import BigQueryWarehouse
from apps.warehouse.embedded import EmbeddedWarehouse

ADMIN = Scope(everything=True)
HEAD_UK = Scope(country_codes=frozenset({"GB"}))
HOSTILE = "X' OR TRUE --"
DATES = (date(2011, 1, 1), date(2011, 3, 31))
# Two backends, built without connecting: only their SQL spelling is used here.
BACKENDS = [EmbeddedWarehouse.__new__(EmbeddedWarehouse), BigQueryWarehouse.__new__(BigQueryWarehouse)]


# -- the scope's predicate ----------------------------------------------------------------


def test_admin_predicate_is_every_row(cast):
    assert scope_predicate(scope_for(cast["admin"])) == ("TRUE", {})


@pytest.mark.parametrize(
    ("username", "country"), [("head_us", "US"), ("head_uk", "GB"), ("head_fr", "FR"), ("head_au", "AU")]
)
def test_regional_head_predicate_is_the_rows_of_their_regions_shops_and_of_their_country(cast, username, country):
    shops = sorted(Shop.objects.filter(region__country_code=country).values_list("code", flat=True))

    assert scope_predicate(scope_for(cast[username])) == (
        "(country_code IN ($scope_country_0) OR store_id IN ($scope_shop_0, $scope_shop_1))",
        {"scope_country_0": country, "scope_shop_0": shops[0], "scope_shop_1": shops[1]},
    )


@pytest.mark.parametrize(
    ("username", "shop"),
    [("mgr_us_nyc", "US-NYC"), ("mgr_uk_lon", "UK-LON"), ("mgr_fr_par", "FR-PAR"), ("mgr_au_syd", "AU-SYD")],
)
def test_shop_manager_predicate_is_the_rows_of_their_shop(cast, username, shop):
    assert scope_predicate(scope_for(cast[username])) == ("(store_id IN ($scope_shop_0))", {"scope_shop_0": shop})


def test_head_of_two_regions_gets_one_bound_parameter_per_country_in_stable_order(cast):
    head = cast["head_fr"]
    head.profile.regions.add(Region.objects.get(country_code="AU"))

    sql, params = scope_predicate(scope_for(head))

    assert sql == (
        "(country_code IN ($scope_country_0, $scope_country_1)"
        " OR store_id IN ($scope_shop_0, $scope_shop_1, $scope_shop_2, $scope_shop_3))"
    )
    assert params == {
        "scope_country_0": "AU",
        "scope_country_1": "FR",
        **{f"scope_shop_{i}": code for i, code in enumerate(["AU-MEL", "AU-SYD", "FR-LYS", "FR-PAR"])},
    }


def test_predicate_never_inlines_a_value_even_an_odd_shop_code():
    sql, params = scope_predicate(Scope(shop_codes=frozenset({HOSTILE})))

    assert "OR TRUE" not in sql
    assert params == {"scope_shop_0": HOSTILE}


def test_empty_scope_predicate_is_no_row():
    assert scope_predicate(NO_ACCESS) == ("FALSE", {})
    assert scope_predicate(Scope(role="shop_manager")) == ("FALSE", {})


# -- a read's SQL -------------------------------------------------------------------------


def _report(**changes) -> ReportFilter:
    return ReportFilter(start=date(2011, 1, 1), end=date(2011, 3, 31), **changes)


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: type(b).__name__)
def test_every_value_of_a_read_is_bound_never_written_into_the_sql(backend):
    report = _report(country=HOSTILE, shop=HOSTILE, product=HOSTILE, category=HOSTILE, grain="week")
    reads = [
        report_read(scope=Scope(shop_codes=frozenset({HOSTILE})), report=report, columns=("order_id",)),
        report_read(scope=HEAD_UK, report=report, measures=(Measure("n", "count"),), group_by=(PERIOD,)),
        report_read(scope=HEAD_UK, report=report, split_at=date(2011, 2, 1), measures=(Measure("n", "count"),)),
    ]
    for read in reads:
        sql, params = read_sql(read, backend=backend)

        assert HOSTILE not in sql and "2011" not in sql
        assert HOSTILE in params.values()


def test_a_read_takes_its_filter_and_period_from_the_report():
    read = report_read(scope=HEAD_UK, report=_report(shop="UK-LON", product="P1"), columns=("order_id",))

    assert read.view == "Master_Sales_View"
    assert read.equals == (("store_id", "UK-LON"), ("product_id", "P1"))
    assert read.dates == (date(2011, 1, 1), date(2011, 3, 31))


@pytest.mark.parametrize("dates", [None, (date(2011, 2, 1), date(2011, 1, 1))])
def test_a_read_without_an_order_date_bound_is_refused(dates):
    """BigQuery refuses a read of the fact table (require_partition_filter) with no bound
    on order_date: the seam refuses to write one."""
    with pytest.raises(ValueError, match="order_date bound"):
        report_read(scope=HEAD_UK, report=_report(), dates=dates, columns=("order_id",))


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: type(b).__name__)
def test_every_read_bounds_order_date_with_bound_parameters(backend):
    read = report_read(scope=ADMIN, report=_report(), measures=(Measure("n", "count"),))

    sql, params = read_sql(read, backend=backend)

    assert "order_date BETWEEN $f_start AND $f_end" in sql
    assert (params["f_start"], params["f_end"]) == (date(2011, 1, 1), date(2011, 3, 31))


@pytest.mark.parametrize(
    "shape",
    [
        {"columns": ("order_id; DROP TABLE x",)},
        {"columns": ("order_id",), "order_by": ("-1",)},
        {"columns": ("order_id",), "order_by": ("--order_date",)},
        {"measures": (Measure("n", "count"),), "group_by": ("country_code, store_id",)},
        {"measures": (Measure("n", "count"),), "group_by": ("store_id",), "grouping_sets": (("country_code",),)},
        {"measures": (Measure("n", "count"),), "columns": ("order_id",)},  # aggregates or lists rows, not both
        {"columns": ("order_id",), "equals": (("store_id", "A"), ("store_id", "B"))},
        {},
    ],
)
def test_a_read_refuses_identifiers_that_are_not_fact_columns(shape):
    with pytest.raises(ValueError, match="Not a valid"):
        Read(view="Master_Sales_View", scope=ADMIN, dates=DATES, **shape)


@pytest.mark.parametrize(
    "bad",
    [lambda: Read(view='x" OR 1', scope=ADMIN, columns=("order_id",), dates=DATES),
     lambda: Measure("n", "avg", "quantity"), lambda: Measure("n", "sum", "quantity) --"),
     lambda: Measure("n; --", "count"), lambda: Measure("n", "sum")],
)  # fmt: skip
def test_views_and_measures_are_checked_too(bad):
    with pytest.raises(ValueError, match="Not a valid"):
        bad()


@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: type(b).__name__)
def test_the_period_is_spelled_by_the_backend_and_grouped_by_name(backend):
    read = Read(
        view="Master_Sales_View",
        scope=ADMIN,
        measures=(Measure("n", "count"),),
        group_by=(PERIOD,),
        grain="month",
        dates=DATES,
    )

    sql, _ = read_sql(read, backend=backend)

    assert backend.sql_date_trunc("order_date", "month") + " AS period" in sql
    assert sql.endswith(" AS facts GROUP BY period")


def test_a_split_read_counts_each_measure_on_both_sides_of_the_day():
    read = Read(
        view="V",
        scope=ADMIN,
        measures=(Measure("returns", "count", only_if="is_return"),),
        split_at=date(2011, 2, 1),
        dates=DATES,
    )

    sql, params = read_sql(read, backend=BACKENDS[0])

    assert "count(CASE WHEN is_return AND order_date >= $split_at THEN 1 END) AS cur_returns" in sql
    assert "count(CASE WHEN is_return AND order_date < $split_at THEN 1 END) AS prev_returns" in sql
    assert params == {"split_at": date(2011, 2, 1), "f_start": DATES[0], "f_end": DATES[1]}


def test_a_page_of_rows_has_a_total_order_with_nulls_placed():
    read = Read(view="V", scope=ADMIN, columns=("order_id",), order_by=("-order_date", "source_row"), dates=DATES)

    sql, _ = read_sql(read, backend=BACKENDS[0])

    assert sql.endswith("ORDER BY order_date DESC NULLS LAST, source_row NULLS LAST")
