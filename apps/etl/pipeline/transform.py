"""Transform: typed, clean rows -> rows of the fact table, with currency and lineage."""

from datetime import datetime

import duckdb
import pyarrow as pa

from apps.etl.pipeline.extract import SOURCE_ROW
from apps.etl.pipeline.spec import UploadContext
from apps.warehouse.fact import FACT_SCHEMA


class MissingFxRate(Exception):
    """No exchange rate for a currency and month: the load stops rather than guess."""


def _optional(rows: pa.Table, name: str) -> str:
    return f"src.{name}" if name in rows.column_names else "NULL"


def to_fact(rows: pa.Table, ctx: UploadContext, *, loaded_at: datetime) -> pa.Table:
    con = duckdb.connect()
    con.register("src", rows)
    fx = pa.table(
        {
            "currency": [r[0] for r in ctx.fx_rates],
            "month": pa.array([r[1] for r in ctx.fx_rates], pa.date32()),
            "rate": pa.array([r[2] for r in ctx.fx_rates], pa.decimal128(18, 8)),
        }
    )
    con.register("fx", fx)
    currency = f"coalesce(upper({_optional(rows, 'currency')}), $currency)"
    con.execute(
        f"""CREATE TEMP TABLE priced AS SELECT src.*, {currency} AS row_currency,
                CAST(date_trunc('month', src.order_date) AS DATE) AS month
            FROM src""",
        {"currency": ctx.currency},
    )
    # The rate in force for a month is the latest one set at or before it.
    con.execute(
        """CREATE TEMP TABLE rated AS
           SELECT p.*, CASE WHEN p.row_currency = $reporting THEN 1 ELSE fx.rate END AS rate
           FROM priced p ASOF LEFT JOIN fx ON fx.currency = p.row_currency AND fx.month <= p.month""",
        {"reporting": ctx.reporting_currency},
    )
    missing = con.execute(
        "SELECT row_currency, strftime(min(month), '%Y-%m') FROM rated WHERE rate IS NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if missing:
        listed = ", ".join(f"{cur} from {month}" for cur, month in missing)
        raise MissingFxRate(
            f"No exchange rate to {ctx.reporting_currency} for {listed}. "
            "An admin can add it under FX rates; then reprocess this upload."
        )
    return (
        con.sql(
            f"""SELECT $upload_id AS upload_id, {SOURCE_ROW}, order_id,
                CAST(order_date AS DATE) AS order_date,
                CASE WHEN CAST(order_date AS TIME) <> TIME '00:00:00' THEN order_date END AS order_ts,
                country_code, $store_id AS store_id,
                {_optional(rows, "product_id")} AS product_id, {_optional(rows, "product_name")} AS product_name,
                {_optional(rows, "category")} AS category,
                CAST(quantity AS BIGINT) AS quantity, unit_price, row_currency AS currency,
                CAST(quantity * unit_price AS DECIMAL(18, 4)) AS revenue,
                CAST(quantity * unit_price * rate AS DECIMAL(18, 4)) AS revenue_reporting,
                {_optional(rows, "customer_id")} AS customer_id, is_return,
                $loaded_at AS loaded_at
            FROM rated src ORDER BY {SOURCE_ROW}""",
            params={"upload_id": ctx.upload_id, "store_id": ctx.store_id, "loaded_at": loaded_at},
        )
        .to_arrow_table()
        .cast(FACT_SCHEMA)
    )
