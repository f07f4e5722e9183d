"""An upload's refused rows, as the user gets them back: the problems list the run wrote
(row, column, value, reason), and the file's rows that have a problem with a column saying
what is wrong, as CSV and as an Excel workbook with the bad cells highlighted. The run
writes them from what it holds (apps/etl/pipeline/rejected.py; the file is not read again);
the web serves the stored files."""

import logging
from pathlib import Path

from django.core.files.storage import default_storage

from apps.etl.pipeline.rejected import (
    XLSX_MAX_ROWS,
    problems_write,
    rejected_rows,
    rows_csv_write,
    rows_workbook_write,
)
from apps.etl.pipeline.run import StagesRun
from apps.uploads.files import problems_path, rows_csv_path, rows_xlsx_path, store
from apps.uploads.models import Upload

log = logging.getLogger(__name__)
# The rows files are built in memory (200,000 rejected rows peaked at 720 MB and took 54 s);
# past this only the problems list is offered.
ROWS_FILES_MAX = 50_000
HOW_TO_FIX = (
    "Correct the highlighted cells, then upload this workbook as a new upload (not as a replacement): its "
    "rows join the rows already loaded. A replacement takes the place of ALL this upload's rows: use it for "
    "your whole corrected file."
)


def problems_store(upload: Upload, run: StagesRun, work: Path) -> None:
    """Every refused row's problems, kept beside the raw file whether or not the file loads
    (StorageWriteFailed when storage refuses: the upload then fails, nothing loaded)."""
    local = work / "rejected.csv"
    if problems_write(run.con, local):
        store(problems_path(upload), local)


def rows_files_store(upload: Upload, run: StagesRun, work: Path) -> int:
    """The refused rows as CSV and XLSX in storage; how many rows. A convenience: when they
    cannot be written the load stands and the problems list is offered instead."""
    wanted = [rows_csv_path(upload), rows_xlsx_path(upload)]
    try:
        _remove(wanted)  # a run again must not leave an earlier run's rows behind
        if run.rows_rejected > ROWS_FILES_MAX:
            return 0
        rows, bad_cells = rejected_rows(run.con, run.extracted, run.mapped.mapping)
        rows_csv_write(rows, work / "rows.csv")
        store(wanted[0], work / "rows.csv")
        rows_workbook_write(rows, bad_cells, work / "rows.xlsx", about=_about(upload, rows.num_rows))
        store(wanted[1], work / "rows.xlsx")
        return rows.num_rows
    except Exception:
        log.exception("could not write the rejected-rows files of upload %s", upload.id)
        return 0


def _about(upload: Upload, rows: int) -> list[tuple[str, object]]:
    about: list[tuple[str, object]] = [("Upload", str(upload.id)), ("File", upload.original_name)]
    about.append(("Rejected rows", rows))
    if rows > XLSX_MAX_ROWS:
        about.append(("Note", f"Only the first {XLSX_MAX_ROWS} rows are in this workbook; the CSV has them all."))
    return [*about, ("How to fix", HOW_TO_FIX)]


def _remove(paths: list[str]) -> None:
    for path in paths:
        if default_storage.exists(path):
            default_storage.delete(path)


def rejected_downloads(upload: Upload) -> dict[str, str]:
    """The rejected-rows files that exist for this upload, by format (csv, xlsx). The CSV
    falls back to the problems list when the original rows could not be written."""
    if not upload.rows_rejected or not upload.raw_path:
        return {}
    found = {}
    for fmt, paths in (("csv", (rows_csv_path(upload), problems_path(upload))), ("xlsx", (rows_xlsx_path(upload),))):
        path = next((p for p in paths if default_storage.exists(p)), None)
        if path:
            found[fmt] = path
    return found
