"""What an uploaded file must look like before it is stored: a format the product reads
(apps/etl/pipeline/extract.py's registry), not empty, within the size limit, and first
bytes that fit its format. Only the first bytes are looked at: the web request never parses
rows (the worker does)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from apps.etl.pipeline.extract import ACCEPTED_SUFFIXES, format_of


def check_name(name: str) -> None:
    if format_of(name) is None:
        accepted = ", ".join(sorted(ACCEPTED_SUFFIXES))
        raise ValidationError(f"'{name}' is not a CSV or Excel file. Accepted: {accepted}.")


def check_size(name: str, size: int) -> None:
    if size == 0:
        raise ValidationError(f"'{name}' is empty.")
    limit = settings.UPLOAD_MAX_BYTES
    if size > limit:
        raise ValidationError(f"'{name}' is {filesizeformat(size)}; the limit is {filesizeformat(limit)}.")


def check_content(name: str, head: bytes) -> None:
    """Refuse bytes that cannot be what the suffix says (a binary renamed .csv, a text
    file renamed .xlsx), with what the file seems to be."""
    found = format_of(name)
    problem = found.head_problem(head) if found else ""
    if problem:
        raise ValidationError(f"'{name}' {problem}")
