"""The one statement that applies a group of staged batches to `orders-cleaned`: a MERGE.

Why one MERGE and not a transaction (BEGIN; DELETE; INSERT; COMMIT): BigQuery cancels a
multi-statement transaction that mutates a table while another one mutating it runs
("Transaction is aborted due to concurrent update"), whereas a lone mutating DML statement
(UPDATE, DELETE, MERGE) is atomic by itself and is queued behind the others: 2 run at
once per table, up to 20 more wait (docs: "UPDATE, DELETE, MERGE DML concurrency"). So the
group's whole change is one statement:

    MERGE fact T USING (
        staged rows of each upload, cast to the fact's types, _marker FALSE
        UNION ALL rows of displaced uploads whose line key is one of a batch's, _marker TRUE
    ) S
    ON S._marker AND T.upload_id = S.upload_id AND T.source_row = S.source_row AND <day bound>
    WHEN MATCHED THEN DELETE                                  -- the displaced lines
    WHEN NOT MATCHED BY TARGET AND NOT S._marker THEN INSERT  -- the batches
    WHEN NOT MATCHED BY SOURCE AND <day bound> AND (each upload's earlier rows, and those of
        the uploads it retires, within their own days) THEN DELETE

Every reference to the fact table carries an order_date bound made of known spans (the
staged batch's, the removed loads'), written as constants (parameters), so BigQuery reads
only those partitions and a table with require_partition_filter accepts it.
Pure functions: they write SQL text and parameters; bigquery.py runs them.
"""

from collections.abc import Sequence
from typing import Any

from apps.warehouse.base import span_of
from apps.warehouse.commits import Pending

# The API's legacy names for the fact's types, as CAST wants them.
CAST_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}


def cast_type(field_type: str) -> str:
    return CAST_TYPES.get(field_type, field_type)


def _select(columns: Sequence[tuple[str, str]], have: set[str], *, marker: bool, prefix: str = "") -> str:
    """One branch's SELECT list: every fact column, cast (NULL where this source lacks it)."""
    parts = []
    for name, kind in columns:
        value = f"{prefix}`{name}`" if name in have else "NULL"
        parts.append(f"CAST({value} AS {cast_type(kind)}) AS `{name}`")
    return ", ".join([*parts, f"{'TRUE' if marker else 'FALSE'} AS _marker"])


def _markers(fact: str, pending: Pending, i: int, columns, keyed_rows_sql) -> str:
    """The displaced uploads' rows (of the batch's shops and days) whose line key is one of
    the staged batch's: delete markers, matched to the target rows by (upload_id, source_row)."""
    where = f"upload_id IN UNNEST(@d{i}) AND store_id IN UNNEST(@st{i}) AND order_date BETWEEN @s{i}lo AND @s{i}hi"
    hits = (
        f"SELECT DISTINCT k.upload_id, k.source_row FROM ({keyed_rows_sql(fact, where)}) k "
        f"JOIN `{pending.staging}` s ON s.line_key = k.line_key"
    )
    return f"SELECT {_select(columns, {'upload_id', 'source_row'}, marker=True)} FROM ({hits})"


def merge_sql(
    fact: str, group: Sequence[Pending], columns: Sequence[tuple[str, str]], staged: Sequence[set[str]], keyed_rows_sql
) -> tuple[str, dict[str, Any]] | None:
    """The MERGE that applies `group` (its uploads' staged columns in `staged`), and its
    parameters; None when there is nothing to do (empty batches, nothing earlier)."""
    params: dict[str, Any] = {}
    branches, removals, marker_spans = [], [], []
    for i, pending in enumerate(group):
        params[f"u{i}"] = pending.upload_id
        if pending.span is not None:
            params[f"s{i}lo"], params[f"s{i}hi"] = pending.span.first, pending.span.last
            branches.append(
                f"SELECT {_select(columns, staged[i], marker=False)} FROM `{pending.staging}` WHERE upload_id = @u{i}"
            )
            if pending.displaced:
                params[f"d{i}"], params[f"st{i}"] = list(pending.displaced), list(pending.stores)
                branches.append(_markers(fact, pending, i, columns, keyed_rows_sql))
                marker_spans.append(pending.span)
        # A run again may have loaded rows before (on another span): remove them, and in a
        # re-apply (a writer died after its MERGE) the rows that very MERGE inserted.
        removed = span_of(*(s for s in (pending.span, pending.removes) if s is not None))
        if removed is not None:
            params[f"r{i}"] = list(pending.replaced)
            params[f"r{i}lo"], params[f"r{i}hi"] = removed.first, removed.last
            removals.append((f"(T.upload_id IN UNNEST(@r{i}) AND T.order_date BETWEEN @r{i}lo AND @r{i}hi)", removed))
    if not branches and not removals:
        return None
    if not branches:  # nothing staged: a source of no rows, with the columns' types
        branches.append(f"SELECT {_select(columns, set(), marker=False)} FROM UNNEST([1]) WHERE FALSE")
    # The markers' days; with no markers (S._marker never true) any known days will do.
    matched = span_of(*marker_spans) or span_of(*(p.span for p in group if p.span), *(s for _, s in removals))
    params["mlo"], params["mhi"] = matched.first, matched.last
    names = ", ".join(f"`{name}`" for name, _ in columns)
    values = ", ".join(f"S.`{name}`" for name, _ in columns)
    sql = f"""MERGE {fact} T
USING (
{chr(10).join(("  " if n == 0 else "  UNION ALL ") + b for n, b in enumerate(branches))}
) S
ON S._marker AND T.upload_id = S.upload_id AND T.source_row = S.source_row AND T.order_date BETWEEN @mlo AND @mhi
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED BY TARGET AND NOT S._marker THEN INSERT ({names}) VALUES ({values})"""
    if removals:
        whole = span_of(*(span for _, span in removals))
        params["rlo"], params["rhi"] = whole.first, whole.last
        either = "\n    OR ".join(clause for clause, _ in removals)
        sql += f"\nWHEN NOT MATCHED BY SOURCE AND T.order_date BETWEEN @rlo AND @rhi AND (\n    {either}) THEN DELETE"
    return sql, params
