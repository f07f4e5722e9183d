"""The business rules, each declared once: what it tests, the reason users read, and how the
upload's report counts the rows it catches.

A rule that refuses a row is checked in validate's one pass (beside the admin's constraints,
constraints.py); one that flags a valid row sets the flag in clean.finish. A new rule is one
entry in RULES with a row that breaks it (`example`): tests/etl/test_rules.py runs every
example through the stages and reads its count in the report.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from apps.etl.pipeline.constraints import Check
from apps.etl.pipeline.spec import DataType, FieldSpec
from apps.etl.pipeline.text_normalisation import raw

# How the upload's report (Upload.report["rules"]) counts the rows a rule catches:
# refused, with a problem (column, value, reason) also counted by reason in errors_by_reason;
REJECTED = "rows_rejected"
# kept, `is_return`;
RETURNS = "returns_flagged"
# kept with the file's country (the other valid rows take the shop's: countries_from_shop).
COUNTRIES_FROM_FILE = "countries_from_file"
# The reason of a row whose country no alias names: the upload's page offers to map its value.
UNKNOWN_COUNTRY = "unknown country"
# A field's value in validate's typed rows, where it is not the field's name.
_VALUES = {"country": "country_code"}  # the country as looked up in the aliases


@dataclass(frozen=True)
class Rule:
    """One business rule.

    `sql` is true on the rows the rule catches, over validate's typed rows: `{field}` stands
    for a field's value (NULL when the file lacks the field; a literal brace is written
    twice). A rejection applies only when the file has every field it needs, so its SQL may
    also name them directly, and read a cell's trimmed text as `raw$<field>`
    (text_normalisation.raw); a flag is read on the valid rows, which keep the values only.
    """

    name: str
    needs: tuple[str, ...]  # the fields it reads
    sql: str
    reason: str  # what users read: a refused row's problem; for a flag, what its count means
    counted: str  # REJECTED, or the report's count of the rows a flag catches
    example: Mapping[str, str]  # cells that break it, put over a good row
    column: str = ""  # a rejection: the cell its problem shows
    of_type: str = ""  # a rejection: applies only when `column`'s field has this data type

    def condition(self, present: Collection[str]) -> str:
        return self.sql.format_map({name: field_value(name, present) for name in self.needs})

    def refuses_on(self, f: FieldSpec, present: Collection[str]) -> bool:
        """Whether the rule refuses rows on field `f`'s cells, for a file with `present` fields."""
        return (
            self.counted == REJECTED
            and f.name == self.column
            and all(name in present for name in self.needs)
            and self.of_type in ("", f.data_type)
        )


RULES = (
    Rule(
        name="order date within 1900-2100",
        needs=("order_date",),
        of_type=DataType.DATETIME,
        sql='year("order_date") NOT BETWEEN 1900 AND 2100',
        reason="date out of range (1900-2100)",
        counted=REJECTED,
        column="order_date",
        example={"order_date": "1/1/1800"},
    ),
    Rule(
        name="quantity not zero",
        needs=("quantity", "unit_price"),  # an order line: a quantity at a price
        sql="{quantity} = 0",
        reason="quantity is zero",
        counted=REJECTED,
        column="quantity",
        example={"quantity": "0"},
    ),
    Rule(
        name="price above 0 on a sale",
        needs=("quantity", "unit_price"),
        sql="{quantity} > 0 AND {unit_price} <= 0",  # a return may carry any price
        reason="price must be above 0 on a sale",
        counted=REJECTED,
        column="unit_price",
        example={"unit_price": "0"},
    ),
    Rule(
        name="known country",
        needs=("country",),
        sql=raw("country") + " <> '' AND {country} IS NULL",  # named, but not by any alias
        reason=UNKNOWN_COUNTRY,
        counted=REJECTED,
        column="country",
        example={"country": "Atlantis"},
    ),
    Rule(
        name="a negative quantity is a return",
        needs=("quantity",),
        sql="coalesce({quantity} < 0, false)",
        reason="a return: the quantity is negative",
        counted=RETURNS,
        example={"quantity": "-3"},
    ),
    Rule(
        name="a cancelled invoice is a return",
        needs=("order_id",),
        # Online Retail's C536379 (not any id that starts with C). The comparison, on the
        # string's inlined prefix, leaves the regex the ids from C to c only.
        sql=(
            "CASE WHEN {order_id} >= 'C' AND {order_id} < 'd' "
            "THEN regexp_full_match({order_id}, '[Cc][0-9]+') ELSE false END"
        ),
        reason="a return: a cancelled invoice (C536379)",
        counted=RETURNS,
        example={"order_id": "C536379"},
    ),
    Rule(
        name="a country from the file, else the shop's",
        needs=("country",),
        sql="{country} IS NOT NULL",
        reason="the country is the file's (a row without one takes the shop's)",
        counted=COUNTRIES_FROM_FILE,
        example={"country": "France"},
    ),
)


def field_value(name: str, present: Collection[str]) -> str:
    """SQL: field `name`'s value in validate's typed rows; NULL when the file lacks it."""
    return _VALUES.get(name, name) if name in present else "NULL"


def rejections(f: FieldSpec, present: Collection[str]) -> list[Check]:
    """The checks of the rules that refuse rows on field `f`'s cells."""
    return [Check(r.column, r.condition(present), r.reason) for r in RULES if r.refuses_on(f, present)]


def flag(counted: str, present: Collection[str]) -> str:
    """SQL: whether a valid row is caught by any of the rules counted as `counted`."""
    caught = [r.condition(present) for r in RULES if r.counted == counted]
    return caught[0] if len(caught) == 1 else f"({' OR '.join(caught)})"
