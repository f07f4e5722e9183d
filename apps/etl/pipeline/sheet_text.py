"""Typed sheet columns as the text calamine would have written, vectorised.

calamine formats every cell itself when asked for strings (dtypes="string"), which costs
about a third more than reading typed columns; pyarrow formats a typed column in one pass.
Only what is formatted exactly as calamine does is converted here: numbers by pyarrow's
shortest round-trip text (big integral ones as digits), date-times to the second.
Anything else (exponents, milliseconds, durations) answers None, and the caller reads
the sheet as strings, so a file never reads differently on the fast path.
"""

import pyarrow as pa
import pyarrow.compute as pc

# Beyond 2**53 not every integer is a double; calamine prints those digit by digit.
MAX_EXACT_INTEGER = 2.0**53


def column_text(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """The column as calamine's text (nulls kept), or None when it could differ."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column
    if pa.types.is_null(kind) or pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        return column.cast(pa.string())
    if pa.types.is_floating(kind):
        return _number_text(column)
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return _datetime_text(column)
    return None


def _number_text(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    column = column.cast(pa.float64())
    text = column.cast(pa.string())
    if pc.any(pc.match_substring(text, "e")).as_py():
        # pyarrow writes 4006381333931 as 4.006381333931e+12 (shorter); calamine as digits.
        big = pc.and_(pc.greater_equal(pc.abs(column), 1.0), pc.less(pc.abs(column), MAX_EXACT_INTEGER))
        integral = pc.and_(pc.equal(pc.floor(column), column), big)
        digits = pc.if_else(integral, column, 0.0).cast(pa.int64()).cast(pa.string())
        text = pc.if_else(integral, digits, text)
        if pc.any(pc.match_substring(text, "e")).as_py():
            return None
    return text


def _datetime_text(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    seconds = column.cast(pa.timestamp("s"), safe=False)
    if pc.any(pc.not_equal(seconds.cast(column.type), column)).as_py():
        return None  # calamine adds milliseconds (".500")
    return seconds.cast(pa.string())
