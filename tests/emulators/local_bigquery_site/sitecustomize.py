"""Imported by the BigQuery emulator's own Python at start-up (PYTHONPATH set by
tests/emulators/servers.py), never by the test process.

local-bigquery refuses to save a view over a table that requires a partition filter
("Cannot query over table ... without a filter over column(s) 'order_date'"): it checks the
view's body as if it were a query. BigQuery does not: a view is saved as it is (`bq mk --view
'SELECT * FROM t'` over such a table, m-lab/etl-gardener#317), and a query of the view must
bound the partition column, which the emulator still checks for queries. So here, and only
for a CREATE VIEW's body, that one refusal is dropped; everything else is the emulator's.

It also refuses every MERGE into such a table, whatever its conditions (it reads the target as
a source with no WHERE). BigQuery takes a MERGE whose ON condition filters the target's
partition column (dbt-labs/dbt-bigquery#986 adds such a term to its merges for that reason):
a MERGE with the partition column of the target in its ON condition is let through here
(the emulator's step that pairs its rows, `__merge_pairs`, is what it refuses). And it lets
a DELETE or UPDATE of such a table through without one, which BigQuery refuses: here they
are held to the same rule as queries.
"""

import re

try:
    from local_bigquery.errors import BigQueryError
    from local_bigquery.sql.rules import tables as _rules
    from sqlglot import exp
except ImportError:  # not the emulator's Python
    pass
else:
    _emulator_check = _rules._check

    def _check(tree, table, is_target):
        try:
            _emulator_check(tree, table, is_target)
            if is_target and isinstance(tree, exp.Delete | exp.Update) and not _merge_step(tree):
                # BigQuery bounds a DML statement's target too; the emulator does not check it.
                _emulator_check(tree, table, False)
        except BigQueryError as error:
            defining_view = isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "VIEW"
            allowed = defining_view or _merge_bounded(tree, table, error.message)
            if "partition elimination" not in error.message or not allowed:
                raise

    def _merge_step(tree) -> bool:
        """One of the statements the emulator runs a MERGE as (over its `__merge_*` tables)."""
        return any(t.name.startswith("__merge_") for t in tree.find_all(exp.Table))

    def _merge_bounded(tree, table, message: str) -> bool:
        """The emulator's own step of a MERGE into `table` (it pairs target and source rows in
        a temporary table `__merge_pairs`, joining them ON the MERGE's condition), where that
        condition names the table's partition column on the target."""
        made = tree.this if isinstance(tree, exp.Create) else None
        if isinstance(made, exp.Table) and made.name == "__merge_orphans":
            return True  # its next step, over the target's rows the pairs left: checked there
        if not (isinstance(made, exp.Table) and made.name == "__merge_pairs"):
            return False
        named = re.search(r"column\(s\) '([^']+)'", message)
        field, alias = (named[1] if named else "").casefold(), table.alias_or_name.casefold()
        for join in tree.find_all(exp.Join):
            on = join.args.get("on")
            if on is not None and any(
                c.name.casefold() == field and c.table.casefold() == alias for c in on.find_all(exp.Column)
            ):
                return True
        return False

    _rules._check = _check
