"""Writes for uploads: store the raw file, record the upload, enqueue its ETL."""

import hashlib
import logging
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_valid_filename

from apps.accounts.access import Scope
from apps.accounts.models import Shop
from apps.uploads.models import Upload

log = logging.getLogger(__name__)
ALLOWED_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls"}
CHUNK = 1024 * 1024


def safe_file_name(name: str) -> str:
    """The last path part of a user's file name, reduced to safe characters."""
    base = PurePath(name.replace("\\", "/")).name
    try:
        return get_valid_filename(base)[:200]
    except Exception:  # get_valid_filename refuses names like '..'; SuspiciousFileOperation
        return "upload"


def raw_path_for(upload: Upload, *, name: str) -> str:
    day = timezone.localdate(upload.created_at)
    country = upload.shop.region.country_code
    return f"raw/{country}/{day:%Y/%m/%d}/{upload.id}/{safe_file_name(name)}"


def upload_create(*, scope: Scope, user, shop: Shop, file: File, name: str, enqueue: bool = True) -> Upload:
    """Store the file raw, record it as queued, and enqueue the ETL once committed."""
    if shop.code not in scope.upload_shop_codes:
        raise PermissionDenied(f"You cannot upload for shop {shop.code}.")
    suffix = PurePath(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ValidationError(f"'{name}' is not a CSV or Excel file. Accepted: {', '.join(sorted(ALLOWED_SUFFIXES))}.")
    size = file.size if file.size is not None else 0
    if size == 0:
        raise ValidationError(f"'{name}' is empty.")
    if size > settings.UPLOAD_MAX_BYTES:
        limit = settings.UPLOAD_MAX_BYTES
        raise ValidationError(f"'{name}' is {filesizeformat(size)}; the limit is {filesizeformat(limit)}.")
    digest = hashlib.sha256()
    for chunk in file.chunks(CHUNK):
        digest.update(chunk)
    file.seek(0)

    with transaction.atomic():
        upload = Upload(shop=shop, uploaded_by=user, original_name=name[:255], size_bytes=size)
        upload.sha256 = digest.hexdigest()
        upload.raw_path = default_storage.save(raw_path_for(upload, name=name), file)
        upload.save(force_insert=True)
        if enqueue:
            transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id))
    return upload


def upload_enqueue(*, upload_id) -> None:
    """Hand the upload to a worker. If the broker is unreachable the upload stays queued
    (the file and its record are safe) and is picked up when it is enqueued again."""
    from apps.etl.tasks import process_upload

    try:
        process_upload.delay(str(upload_id))
    except Exception:
        log.exception("could not enqueue upload %s; it stays queued", upload_id)
