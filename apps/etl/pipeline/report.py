"""What an upload's report says: how the file was read, each cleaning rule's count, and
the refused rows (the first ones inline; all of them in the rejected-rows file)."""

from apps.etl.pipeline.clean import Cleaned
from apps.etl.pipeline.extracted import Extracted
from apps.etl.pipeline.mapping import Mapping, layout_key
from apps.etl.pipeline.validate import FIRST_ERRORS, Validated


def build_report(
    extracted: Extracted, mapped: Mapping, checked: Validated, cleaned: Cleaned, *, dropped: int, totals: int = 0
) -> dict:
    bad = [
        {"source_row": b.source_row, "column": "", "value": b.text, "reason": b.reason} for b in extracted.bad_records
    ]
    by_reason = dict(checked.errors_by_reason)
    for b in extracted.bad_records:
        by_reason[b.reason] = by_reason.get(b.reason, 0)
    if extracted.bad_count:
        # Short and long rows are counted together; the first ones show which.
        by_reason["wrong number of fields"] = extracted.bad_count
        for b in extracted.bad_records:
            by_reason.pop(b.reason, None)
    first = sorted(checked.first_errors + bad, key=lambda e: e["source_row"] or 0)[:FIRST_ERRORS]
    return {
        "file": extracted.details,
        "layout": layout_key(extracted.headers),
        "mapping": mapped.mapping,
        "mapping_saved": mapped.saved,
        "unmapped": list(mapped.unmapped),
        "suggestions": {k: list(v) for k, v in mapped.suggestions.items()},
        "date_order": checked.date_order,
        "date_order_note": checked.date_order_note,
        "date_order_open": checked.date_order_open,
        "numbers": checked.number_notes,
        "rules": {
            "cells_trimmed": checked.cells_trimmed,
            "countries_from_file": cleaned.countries_from_file,
            "countries_from_shop": cleaned.countries_defaulted,
            "returns_flagged": cleaned.returns,
            "duplicates_dropped": dropped,
            "totals_dropped": totals,
            "rows_rejected": checked.rows_rejected + extracted.bad_count,
        },
        "errors_by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        "first_errors": first,
        "unknown_countries": checked.unknown_countries,
    }


def mapping_needed_report(extracted: Extracted, mapped: Mapping) -> dict:
    """What the mapping step shows: the file's columns, what matched, what is suggested."""
    return {
        "needs_mapping": True,
        "file": extracted.details,
        "columns": extracted.columns,
        "mapping": mapped.mapping,
        "missing": list(mapped.missing_required),
        "suggestions": {k: list(v) for k, v in mapped.suggestions.items()},
        "unmapped": list(mapped.unmapped),
    }
