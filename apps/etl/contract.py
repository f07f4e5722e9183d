"""What the fact table needs from the admin's schema, checked where the admin edits it and
again where a run freezes it (a schema made unusable by a direct edit or a migration).

The pipeline builds `orders-cleaned` from fixed field names: a field it needs that is gone,
optional or of another type would stop every upload with an internal error instead.
"""

from collections.abc import Iterable

from apps.etl.pipeline.spec import DataType
from apps.etl.pipeline.transform import CANONICAL_INPUTS
from apps.warehouse.fact import FACT_SCHEMA

# Each field the fact table is built from: its data type, and whether every file must have it.
FACT_INPUTS: dict[str, tuple[str, bool]] = {
    "order_date": (DataType.DATETIME, True),
    "quantity": (DataType.INTEGER, True),
    "unit_price": (DataType.DECIMAL, True),
    "order_id": (DataType.STRING, False),
    "product_id": (DataType.STRING, False),
    "product_name": (DataType.STRING, False),
    "category": (DataType.STRING, False),
    "currency": (DataType.STRING, False),
    "customer_id": (DataType.STRING, False),
    "country": (DataType.STRING, False),
}
# Columns of the fact table the pipeline computes itself: a file cannot supply them.
COMPUTED = frozenset(FACT_SCHEMA.names) - CANONICAL_INPUTS
KIND = {DataType.STRING: "text", DataType.INTEGER: "a whole number", DataType.DECIMAL: "a decimal"}
KIND[DataType.DATETIME] = "a date"


def fact_contract_problems(fields: Iterable[tuple[str, str, bool]]) -> list[str]:
    """One readable sentence per field the fact table cannot use; `fields` are the schema's
    (name, data type, required). An empty list means the schema can fill the fact table."""
    given = {name: (data_type, required) for name, data_type, required in fields}
    problems = []
    for name, (data_type, required) in FACT_INPUTS.items():
        if name not in given:
            if required:
                problems.append(f"{name} is needed by the fact table: add it back ({KIND[data_type]}, required).")
            continue
        has_type, has_required = given[name]
        wrong = [KIND.get(has_type, has_type)] if has_type != data_type else []
        if required and not has_required:
            wrong.insert(0, "optional")
        if wrong:
            if required:
                must = f"is needed by the fact table: it must stay required and {KIND[data_type]}"
            else:
                must = f"fills a column of the fact table: it must be {KIND[data_type]}"
            problems.append(f"{name} {must} (now {', '.join(wrong)}).")
    problems += [
        f"{name} is a column the pipeline computes for the fact table: choose another field name."
        for name in given
        if name in COMPUTED
    ]
    return problems
