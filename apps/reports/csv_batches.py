"""CSV text of Arrow record batches, written column by column (no Python loop over rows).

The text is the very text Python's csv module writes for the same values (the excel
dialect: ',' between fields, '"' around a field holding ',', '"', CR or LF, '""' for a
quote inside, CRLF after each row), with each value written as the row-by-row export
writes it: nothing for NULL, dates in ISO form, True/False, decimals with their scale, and
text that a spreadsheet would run as a formula prefixed with "'" (exports.neutralise).
"""

import pyarrow as pa
import pyarrow.compute as pc

# A leading = + - @ TAB or CR: the starts exports.FORMULA_STARTS neutralises.
FORMULA_START = r"^[=+\-@\t\r]"
NEEDS_QUOTES = '[",\r\n]'


def _text(column: pa.Array) -> pa.Array:
    """The column as CSV fields: text, no NULLs."""
    kind = column.type
    if pa.types.is_boolean(kind):
        text = pc.if_else(column, "True", "False")
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        prefixed = pc.binary_join_element_wise("'", column, "")
        text = pc.if_else(pc.match_substring_regex(column, FORMULA_START), prefixed, column)
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        text = pc.if_else(pc.match_substring_regex(text, NEEDS_QUOTES), quoted, text)
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_date(kind):
        text = pc.cast(column, pa.string())
    else:
        raise TypeError(f"No CSV form for a {kind} column")
    return pc.fill_null(text.cast(pa.string()), "")


def csv_batch(batch: pa.RecordBatch) -> bytes:
    """The batch's rows as CSV lines (UTF-8)."""
    if batch.num_rows == 0:
        return b""
    lines = pc.binary_join_element_wise(*(_text(column) for column in batch.columns), ",")
    lines = pc.binary_join_element_wise(lines, "\r\n", "")
    # One buffer holds every line, one after the other, from the first offset to the last.
    _, offsets, data = lines.buffers()
    bounds = pa.Array.from_buffers(pa.int32(), len(lines) + 1, [None, offsets], offset=lines.offset)
    start, end = bounds[0].as_py(), bounds[-1].as_py()
    return data.slice(start, end - start).to_pybytes()
