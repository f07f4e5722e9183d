"""Imported by the BigQuery emulator's own Python at start-up (PYTHONPATH set by
tests/emulators/servers.py), never by the test process.

local-bigquery refuses to save a view over a table that requires a partition filter
("Cannot query over table ... without a filter over column(s) 'order_date'"): it checks the
view's body as if it were a query. BigQuery does not: a view is saved as it is (`bq mk --view
'SELECT * FROM t'` over such a table, m-lab/etl-gardener#317), and a query of the view must
bound the partition column, which the emulator still checks for queries. So here, and only
for a CREATE VIEW's body, that one refusal is dropped; everything else is the emulator's.
"""

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
        except BigQueryError as error:
            defining_view = isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "VIEW"
            if not (defining_view and "partition elimination" in error.message):
                raise

    _rules._check = _check
