"""Clean: drop exact duplicate rows, normalise countries, flag returns."""

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from apps.etl.pipeline.extract import SOURCE_ROW
from apps.etl.pipeline.spec import SchemaSpec


def drop_duplicates(table: pa.Table) -> tuple[pa.Table, int]:
    """Keep the first of each set of rows identical in every mapped column."""
    columns = [c for c in table.column_names if c != SOURCE_ROW]
    if not columns:
        return table, 0
    con = duckdb.connect()
    con.register("src", table)
    key = ", ".join(f'"{c}"' for c in columns)
    kept = con.sql(
        f"SELECT * FROM src QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {SOURCE_ROW}) = 1 "
        f"ORDER BY {SOURCE_ROW}"
    ).to_arrow_table()
    return kept, table.num_rows - kept.num_rows


def normalise(rows: pa.Table, spec: SchemaSpec, *, default_country: str) -> pa.Table:
    """Country -> ISO code through the aliases (else the shop's); returns flagged.

    A return is a negative quantity or a cancelled invoice (`C536379`, Online Retail's mark).
    """
    if "country" not in rows.column_names:
        rows = rows.append_column("country", pa.nulls(rows.num_rows, pa.string()))
    if "customer_id" in rows.column_names:
        # Spreadsheet exports turn the id 16764 into 16764.0.
        fixed = pc.replace_substring_regex(rows["customer_id"], r"^(\d+)\.0+$", r"\1")
        rows = rows.set_column(rows.column_names.index("customer_id"), "customer_id", fixed)
    if "order_id" not in rows.column_names:
        rows = rows.append_column("order_id", pa.nulls(rows.num_rows, pa.string()))
    con = duckdb.connect()
    con.register("src", rows)
    aliases = spec.country_aliases
    con.register("aliases", pa.table({"alias": list(aliases), "code": list(aliases.values())}))
    return con.sql(
        "SELECT src.* EXCLUDE (country), coalesce(a.code, $default) AS country_code, "
        "(src.quantity < 0 OR regexp_matches(coalesce(src.order_id, ''), '^[Cc][0-9]+$')) AS is_return "
        f"FROM src LEFT JOIN aliases a ON a.alias = upper(src.country) ORDER BY src.{SOURCE_ROW}",
        params={"default": default_country},
    ).to_arrow_table()
