"""The plausibility judge's rules on their own (apps/etl/pipeline/plausibility.py): robust to
one odd upload in the history, wider for a shop whose months vary, dates judged by the
shop's usual lag. The fault suite over real shop histories is tests/uploads/test_plausibility_faults.py."""

from datetime import date, timedelta

from apps.etl.pipeline.plausibility import Earlier, plausibility_judge

MONTH = {
    "lines_read": 200, "duplicates": 0, "lines": 200, "orders": 20, "sales": 4000.0, "aov": 200.0,
    "median_price": 2.5, "median_date": "2011-03-15", "currencies": {"GBP": 200},
}  # fmt: skip


def _month(k: int, **changes) -> dict:
    """The k-th month of a steady shop: its middle date k months after January 2011."""
    middle = date(2011, 1, 15) + timedelta(days=30 * k)
    return {**MONTH, "median_date": middle.isoformat(), **changes}


def _history(*summaries: dict) -> list[Earlier]:
    """Uploads made 20 days after each month's middle date, newest first."""
    earlier = [
        Earlier(str(k), f"m{k}", date.fromisoformat(s["median_date"]) + timedelta(days=20), s)
        for k, s in enumerate(summaries)
    ]
    return earlier[::-1]


def _judged(summary: dict, history: list[Earlier], *, lag_days: int = 20) -> dict:
    return plausibility_judge(
        summary, uploaded_on=date.fromisoformat(summary["median_date"]) + timedelta(days=lag_days), history=history
    )


def test_one_odd_upload_in_the_history_moves_nothing():
    history = _history(_month(0), _month(1), _month(2, lines=2000, sales=40000.0), _month(3), _month(4))
    assert not _judged(_month(5), history)["held"]
    assert _judged(_month(5, lines=1100, sales=22000.0), history)["held"]


def test_a_shop_whose_months_vary_gets_a_wider_limit_up_to_eight_times():
    steady = _history(*(_month(k) for k in range(6)))
    varied = _history(*(_month(k, lines=n, sales=20.0 * n) for k, n in enumerate([60, 400, 90, 700, 150, 300])))
    six_times = _month(6, lines=1200, sales=24000.0)
    assert _judged(six_times, steady)["held"]
    assert not _judged(_month(6, lines=1200, sales=24000.0), varied)["held"]
    limit = next(c["limit"] for c in _judged(six_times, varied)["checks"] if c["key"] == "lines")
    assert limit == 8.0


def test_fewer_than_three_earlier_uploads_are_never_enough_to_hold():
    judged = _judged(_month(2, median_price=250.0), _history(_month(0), _month(1)))
    assert not judged["held"] and "fewer than 3" in judged["note"]


def test_a_month_sent_late_passes_and_a_year_off_is_held():
    history = _history(*(_month(k) for k in range(4)))
    assert not _judged(_month(4), history, lag_days=80)["held"]
    year_later = _month(4 + 12)
    judged = plausibility_judge(
        year_later, uploaded_on=date.fromisoformat(_month(4)["median_date"]) + timedelta(days=20), history=history
    )
    assert judged["held"] and any("a year off" in r for r in judged["reasons"])


def test_prices_a_hundred_times_lower_are_held_and_a_new_currency_too():
    history = _history(*(_month(k) for k in range(4)))
    cents = _judged(_month(4, median_price=0.025, aov=2.0, sales=40.0), history)
    assert cents["held"] and any("median unit price" in r for r in cents["reasons"])
    euros = _judged(_month(4, currencies={"EUR": 190, "GBP": 10}), history)
    assert euros["reasons"] == ["Most of its lines are in EUR; the shop's recent uploads are in GBP."]


def test_a_back_catalogue_loaded_in_one_go_has_no_date_pattern_to_break():
    """Twelve months of old sales uploaded on one day: their lags spread over a year."""
    months = [_month(k) for k in range(12)]
    same_day = date.fromisoformat(months[-1]["median_date"]) + timedelta(days=20)
    history = [Earlier(str(k), f"m{k}", same_day, s) for k, s in enumerate(months)][::-1]
    older = _month(-13)
    judged = plausibility_judge(older, uploaded_on=same_day, history=history)
    assert not judged["held"]
    assert next(c for c in judged["checks"] if c["key"] == "date_lag")["limit"] > 300
