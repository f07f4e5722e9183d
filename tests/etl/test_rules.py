"""Every business rule declared in apps/etl/pipeline/rules.py catches its example, through the
stages, and the upload's report counts it where the rule says: a rule that refuses a row
shows the cell with the rule's reason; a flag keeps the row and counts it. A new rule is one
entry in RULES with its example, and these tests cover it."""

from pathlib import Path

import pytest

from apps.etl.pipeline.report import build_report
from apps.etl.pipeline.rules import REJECTED, RULES
from tests.etl.stages import run

# A row no rule catches (no country: a row with one counts as a country from the file).
GOOD = {
    "order_id": "536365",
    "order_date": "12/1/2010 8:26",
    "product_id": "85123A",
    "quantity": "6",
    "unit_price": "2.55",
    "country": "",
}
COUNTS = ("rows_rejected", "returns_flagged", "countries_from_file")


def _report(tmp_path: Path, rows: list[dict[str, str]], *, typed_read: bool) -> dict:
    """The upload's report of a file of `rows` (under GOOD's names), run through the stages."""
    path = tmp_path / "rules.csv"
    lines = [",".join(GOOD), *(",".join(row[name] for name in GOOD) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(path, tmp_path, typed_read=typed_read)
    try:
        return build_report(
            result["extracted"], result["mapped"], result["checked"], result["cleaned"], dropped=result["dropped"]
        )
    finally:
        result["con"].close()


@pytest.mark.parametrize("typed_read", [False, True], ids=["text", "typed read"])
@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_rule_catches_its_example_and_the_report_counts_it_where_the_rule_says(tmp_path, rule, typed_read):
    broken = GOOD | dict(rule.example)

    report = _report(tmp_path, [GOOD, broken, GOOD | {"order_id": "536366"}], typed_read=typed_read)

    counts = report["rules"]
    assert counts[rule.counted] == 1
    assert all(counts[name] == 0 for name in COUNTS if name != rule.counted)
    if rule.counted == REJECTED:
        problem = {"source_row": 3, "column": rule.column, "value": rule.example[rule.column], "reason": rule.reason}
        assert report["first_errors"] == [problem]
        assert report["errors_by_reason"] == {rule.reason: 1}
    else:
        assert report["errors_by_reason"] == {}


@pytest.mark.parametrize("typed_read", [False, True], ids=["text", "typed read"])
def test_no_rule_catches_the_good_row(tmp_path, typed_read):
    report = _report(tmp_path, [GOOD, GOOD | {"order_id": "536366"}], typed_read=typed_read)

    assert [report["rules"][name] for name in COUNTS] == [0, 0, 0]
    assert report["rules"]["countries_from_shop"] == 2
    assert report["errors_by_reason"] == {}


def test_each_rule_is_declared_once_and_its_example_breaks_only_what_it_needs():
    assert len({r.name for r in RULES}) == len(RULES)
    assert len({r.reason for r in RULES}) == len(RULES)
    for rule in RULES:
        assert set(rule.example) <= set(rule.needs) <= set(GOOD), rule.name
        assert (rule.column in rule.needs) == (rule.counted == REJECTED), rule.name
