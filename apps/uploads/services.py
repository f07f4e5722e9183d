"""Writes for uploads, whatever the entry (web, API, CLI, admin action): store the raw file,
record the upload and enqueue its run; the user's choices on a duplicate (replace the earlier
upload, or cancel), of a workbook's sheet, of a date order, of the columns' mapping; and an
operator's reprocess or removal of its rows, and the warehouse's reconciliation and repair.
Status changes go through transitions.py and every run is enqueued through tasks.upload_enqueue."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from apps.accounts.access import Scope
from apps.accounts.models import Region, Shop
from apps.etl.mappings import column_mapping_save, mapping_problems
from apps.etl.pipeline.extract import HEAD_BYTES
from apps.etl.pipeline.spec import SchemaSpec
from apps.uploads.audit import event_record
from apps.uploads.checks import check_content, check_name, check_size
from apps.uploads.files import raw_path_for
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.reconcile import Mismatch, Reconciliation, uploads_reconcile
from apps.uploads.run import pipeline_run, upload_run
from apps.uploads.selectors import (
    upload_current_of_content,
    upload_replaced_by,
    upload_replacement_pending,
    upload_sheets,
)
from apps.uploads.tasks import upload_enqueue
from apps.uploads.transitions import (
    ENDED,
    ReplacementRunning,
    upload_cancel,
    upload_insert,
    upload_insert_held,
    upload_queue_again,
    upload_rows_removed,
)
from apps.warehouse.services import warehouse, warehouse_version_bump

CHUNK = 1024 * 1024
ON_DUPLICATE = ("ask", "replace", "cancel")


class DuplicateUpload(ValidationError):
    """Refused because the shop already has an upload of the same content (on_duplicate=cancel)."""

    def __init__(self, message: str, *, earlier: Upload) -> None:
        super().__init__(message)
        self.earlier = earlier


def file_checked(*, file: File, name: str) -> str:
    """Refuse what cannot be a sales file, from its name, size and first bytes; its SHA-256.

    The digest comes from the upload handler when the file arrived over HTTP (it hashed the
    bytes on their way to disk); otherwise the file is read once, in chunks."""
    check_name(name)
    check_size(name, file.size or 0)
    file.seek(0)
    check_content(name, file.read(HEAD_BYTES))
    file.seek(0)
    digest = getattr(file, "sha256", None)
    if digest is None:
        hasher = hashlib.sha256()
        for chunk in file.chunks(CHUNK):
            hasher.update(chunk)
        file.seek(0)
        digest = hasher.hexdigest()
    return digest


def upload_create(
    *,
    scope: Scope,
    user,
    shop: Shop,
    file: File,
    name: str,
    enqueue: bool = True,
    replaces: Upload | None = None,
    on_duplicate: str = "ask",
    accept_implausible: bool = False,
    on_overlap: str = "ask",
) -> Upload:
    """Store the file raw, record it, and enqueue the ETL once committed.

    `accept_implausible`: load it even if it is unlike the shop's usual uploads (`ingest
    --accept-implausible`); otherwise such an upload is held for the uploader's choice.
    `on_overlap`: what its runs do with lines the shop has loaded from other uploads: `ask`
    holds it (status overlap) until the uploader chooses, or one of Upload.OverlapChoice.

    Same content as a current upload of the shop: `ask` holds it (status duplicate) until
    the user chooses, `replace` makes it the earlier upload's replacement, `cancel` refuses it.
    A replacement is refused while the upload it replaces has another one queued or running.
    The database decides between parallel requests (transitions.upload_insert): any number
    of them record one upload of a content, and one replacement of an upload.
    """
    if shop.code not in scope.upload_shop_codes:
        raise PermissionDenied(f"You cannot upload for shop {shop.code}.")
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(on_duplicate)
    if on_overlap != "ask" and on_overlap not in Upload.OverlapChoice.values:
        raise ValueError(on_overlap)
    sha256 = file_checked(file=file, name=name)
    if replaces is not None:
        replacement_check(scope=scope, old=replaces, shop=shop)
    # A first look, to refuse without storing anything; the insert below is what decides.
    earlier = None if replaces else upload_current_of_content(shop=shop, sha256=sha256)
    if earlier is not None and on_duplicate == "cancel":
        raise DuplicateUpload(f"'{name}' {duplicate_sentence(earlier)} Nothing was stored.", earlier=earlier)
    upload = Upload(shop=shop, uploaded_by=user, original_name=name[:255], size_bytes=file.size)
    upload.sha256, upload.replaces = sha256, replaces
    upload.plausibility_accepted = accept_implausible
    upload.overlap_choice = "" if on_overlap == "ask" else on_overlap
    # Stored before the transaction: a slow storage holds no database lock.
    upload.raw_path = default_storage.save(raw_path_for(upload, name=name), file)
    try:
        _record(upload, scope=scope, user=user, on_duplicate=on_duplicate, enqueue=enqueue)
    except BaseException:
        default_storage.delete(upload.raw_path)  # refused: nothing of it is kept
        raise
    return upload


def _record(upload: Upload, *, scope: Scope, user, on_duplicate: str, enqueue: bool) -> None:
    """Record the stored upload: queued (and enqueued once committed) when the database lets
    it claim its content or its replacement; else held as the duplicate of the upload that
    holds the content, or refused as `on_duplicate` and the replacement's state say."""
    name = upload.original_name
    for _attempt in range(5):  # the holder may end its claim between two looks: look again
        with transaction.atomic():
            if upload_insert(upload):
                event_record(upload=upload, kind=UploadEvent.Kind.CREATED, actor=user, detail=_created_detail(upload))
                if enqueue:
                    transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id))
                return
            if upload.replaces is not None and (running := upload_replacement_pending(upload.replaces)):
                raise replacement_running(upload.replaces, running)
            holder = upload_current_of_content(shop=upload.shop, sha256=upload.sha256)
            if holder is None:
                continue
            if upload.replaces is not None:
                raise ValidationError(
                    f"'{name}' {duplicate_sentence(holder)} It cannot also replace '{upload.replaces.original_name}': "
                    "replace that upload instead, or cancel this one.",
                    code="duplicate",
                )
            if on_duplicate == "cancel":
                raise DuplicateUpload(f"'{name}' {duplicate_sentence(holder)} Nothing was stored.", earlier=holder)
            if on_duplicate == "replace":
                replacement_check(scope=scope, old=holder, shop=upload.shop)
                upload.replaces = holder
                continue
            upload_insert_held(upload, earlier=holder)
            event_record(upload=upload, kind=UploadEvent.Kind.CREATED, actor=user, detail=_created_detail(upload))
            event_record(upload=upload, kind=UploadEvent.Kind.DUPLICATE, actor=user, detail=str(holder.id))
            return
    raise ValidationError(f"'{name}' is being uploaded by several requests at once; try again.")


def _created_detail(upload: Upload) -> str:
    detail = f"{upload.original_name} for {upload.shop.code}, {upload.size_bytes} bytes, sha256 {upload.sha256}"
    return detail + (f"; replaces {upload.replaces_id}" if upload.replaces_id else "")


def duplicate_sentence(earlier: Upload) -> str:
    who = earlier.uploaded_by.username if earlier.uploaded_by else "a command-line job"
    when = timezone.localtime(earlier.created_at)
    return f"has the same content as '{earlier.original_name}', uploaded by {who} on {when:%Y-%m-%d at %H:%M}."


def replacement_running(old: Upload, running: Upload | None = None) -> ValidationError:
    """The answer to a second replacement of an upload while one is queued or running."""
    running = running or upload_replacement_pending(old)
    which = ""
    if running is not None:
        who = running.uploaded_by.username if running.uploaded_by else "a command-line job"
        which = f" ('{running.original_name}', uploaded by {who})"
    return ValidationError(
        f"A replacement of '{old.original_name}' is already running{which}; wait until it ends.",
        code="replacement_running",
    )


def replacement_check(*, scope: Scope, old: Upload, shop: Shop) -> None:
    """A replacement is for the same shop, of an upload that has ended and is still current,
    and has no other replacement queued or running."""
    if old.shop_id != shop.id or shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("A replacement must be uploaded for the same shop, by someone who may upload for it.")
    if not old.is_finished or old.status == Upload.Status.CANCELLED:
        raise ValidationError(f"'{old.original_name}' is still {old.get_status_display().lower()}; wait until it ends.")
    newer = old.replacements.filter(status__in=Upload.IN_WAREHOUSE).first()
    if newer is not None:
        raise ValidationError(f"'{old.original_name}' was replaced by '{newer.original_name}'; replace that one.")
    if running := upload_replacement_pending(old):
        raise replacement_running(old, running)


def upload_decide(*, scope: Scope, user, upload: Upload, choice: str) -> Upload:
    """The user's answer to a duplicate: replace the earlier upload with this one, or cancel it."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("You cannot decide for this shop's uploads.")
    if choice not in ("replace", "cancel"):
        raise ValidationError("Choose replace or cancel.")
    not_held = ValidationError("This upload is not waiting for a choice any more.")
    with transaction.atomic():
        if choice == "cancel":
            if not upload_cancel(upload, actor=user):
                raise not_held
            raw_path = upload.raw_path
            transaction.on_commit(lambda: default_storage.delete(raw_path))  # nothing of it is kept but the record
        else:
            if upload.status == Upload.Status.DUPLICATE and upload.duplicate_of is not None:
                replacement_check(scope=scope, old=upload.duplicate_of, shop=upload.shop)
            earlier = upload.duplicate_of_id
            held = (Upload.Status.DUPLICATE,)
            with _one_replacement_of(upload.duplicate_of):
                if not upload_queue_again(upload, leaving=held, kind=UploadEvent.Kind.REPLACE, actor=user,
                                          detail=str(earlier), replaces_id=earlier):  # fmt: skip
                    raise not_held
            transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id))
    upload.refresh_from_db()
    return upload


PLAUSIBILITY_CHOICES = ("confirm", "cancel")


def upload_plausibility_decide(*, scope: Scope, upload: Upload, choice: str, by) -> Upload:
    """The uploader's answer to an upload held as unlike the shop's usual uploads: confirm
    (recorded with who chose it; it is processed again and loads, its plausibility accepted)
    or cancel (nothing of it is loaded, its raw file goes)."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("You cannot decide for this shop's uploads.")
    if choice not in PLAUSIBILITY_CHOICES:
        raise ValidationError("Choose confirm or cancel.")
    not_held = ValidationError("This upload is not waiting for a choice any more.")
    with transaction.atomic():
        if choice == "cancel":
            if upload.status != Upload.Status.IMPLAUSIBLE or not upload_cancel(upload, actor=by):
                raise not_held
            raw_path = upload.raw_path
            transaction.on_commit(lambda: default_storage.delete(raw_path))  # nothing of it is kept but the record
        else:
            reasons = " ".join((upload.report.get("plausibility") or {}).get("reasons") or [])
            held = (Upload.Status.IMPLAUSIBLE,)
            with _one_replacement_of(upload.replaces):
                if not upload_queue_again(upload, leaving=held, kind=UploadEvent.Kind.CONFIRMED, actor=by,
                                          detail=reasons, plausibility_accepted=True):  # fmt: skip
                    raise not_held
            transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id, force=True))
    upload.refresh_from_db()
    return upload


def upload_overlap_decide(*, scope: Scope, upload: Upload, choice: str, by) -> Upload:
    """The uploader's answer to an upload held for lines loaded before (status overlap): load
    only the new lines, replace the other uploads' overlapping lines with this file's, load
    everything anyway, or cancel. Recorded in its history with who chose it; any choice but
    cancel runs it again (tasks.upload_enqueue), the choice stored on it for that run."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("You cannot decide for this shop's uploads.")
    if choice not in Upload.OverlapChoice.values:
        raise ValidationError(f"Choose one of: {', '.join(Upload.OverlapChoice.values)}.", code="no_such_choice")
    not_held = ValidationError("This upload is not waiting for a choice any more.", code="not_held")
    label = Upload.OverlapChoice(choice).label
    with transaction.atomic():
        if choice == Upload.OverlapChoice.CANCEL:
            if upload.status != Upload.Status.OVERLAP or not upload_cancel(upload, actor=by):
                raise not_held
            event_record(upload=upload, kind=UploadEvent.Kind.OVERLAP_CHOSEN, actor=by, detail=label)
        else:
            held, kind = (Upload.Status.OVERLAP,), UploadEvent.Kind.OVERLAP_CHOSEN
            with _one_replacement_of(upload.replaces):
                queued = upload_queue_again(
                    upload, leaving=held, kind=kind, actor=by, detail=label, overlap_choice=choice
                )
                if not queued:
                    raise not_held
            transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id))
    upload.refresh_from_db()
    return upload


def upload_sheet_choose(*, scope: Scope, user, upload: Upload, sheet: str) -> Upload:
    """Process the workbook again, reading the sheet the user chose. Its rows replace the
    upload's rows in the warehouse once loaded; the choice stays for later runs."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("Only those who upload for this shop can choose the sheet of its files.")
    sheets = upload_sheets(upload)
    if sheet not in sheets:
        known = ", ".join(sheets) or "none known"
        raise ValidationError(f"The workbook has no sheet '{sheet}'. Its sheets: {known}.", code="no_such_sheet")
    return upload_run_again(upload, user=user, kind=UploadEvent.Kind.SHEET_CHOSEN, detail=sheet, sheet=sheet)


def upload_date_order_choose(*, scope: Scope, user, upload: Upload, order: str) -> Upload:
    """Process the file again, reading the dates that read both ways (4/5/2011) in the order
    the user chose instead of the region's usual one. Dates the file's values decide are
    read as they say; the choice stays for later runs."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("Only those who upload for this shop can choose how its dates are read.")
    if order not in Region.DateOrder.values:
        raise ValidationError(f"Unknown date order '{order}': choose month first or day first.", code="no_such_order")
    label = Region.DateOrder(order).label
    return upload_run_again(upload, user=user, kind=UploadEvent.Kind.DATES_CHOSEN, detail=label, date_order=order)


def upload_run_again(upload: Upload, *, user, kind: str, detail: str, **choice: str) -> Upload:
    """Record the user's choice on an upload that ended, queue it again and hand it to a
    worker (its rows replace the upload's once loaded)."""
    if newer := upload_replaced_by(upload):
        raise ValidationError(f"'{upload.original_name}' was replaced by '{newer.original_name}'; choose there.")
    with transaction.atomic(), _one_replacement_of(upload.replaces):
        if not upload_queue_again(upload, leaving=ENDED, kind=kind, actor=user, detail=detail, **choice):
            now = Upload.objects.get(pk=upload.pk).get_status_display().lower()
            raise ValidationError(f"'{upload.original_name}' cannot be processed again while it is {now}.")
        sheet = choice.get("sheet")
        transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id, sheet=sheet))
    upload.refresh_from_db()
    return upload


def upload_mapping_confirm(*, scope: Scope, user, upload: Upload, spec: SchemaSpec, chosen: dict[str, str]) -> None:
    """Remember the mapping the user chose for the upload's header layout (the shop's next
    files with these headers are matched by themselves), then process it again."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("You cannot process files for this shop.")
    columns = list(upload.report.get("columns", []))
    mapping = {field: column for field, column in chosen.items() if column}
    if errors := mapping_problems(spec=spec, columns=columns, mapping=mapping):
        raise ValidationError(errors)
    matched = ", ".join(f"{column} -> {field}" for field, column in mapping.items())
    with transaction.atomic(), _one_replacement_of(upload.replaces):
        column_mapping_save(shop=upload.shop, columns=columns, mapping=mapping, user=user)
        kind = UploadEvent.Kind.MAPPING_CONFIRMED
        upload_queue_again(upload, leaving=None, kind=kind, actor=user, detail=matched[:500])
        transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id))


@contextmanager
def _one_replacement_of(old: Upload | None) -> Iterator[None]:
    """Queueing a replacement again while another replacement of `old` is queued or running
    is refused by the database: said as a sentence."""
    try:
        yield
    except ReplacementRunning:
        raise replacement_running(old) from None


def upload_run_here(*, upload_id) -> Upload:
    """Run a queued upload in this process, as a worker would (`ingest --inline`)."""
    return upload_run(upload_id=upload_id)


def upload_reprocess(*, upload_id, inline: bool = False) -> Upload:
    """Run the upload's ETL again from its raw file (an operator's action): its rows in the
    warehouse are replaced (or removed, if it is now rejected or fails). Queued for a worker
    unless `inline`."""
    upload = Upload.objects.get(pk=upload_id)
    if inline:
        with _one_replacement_of(upload.replaces):
            return pipeline_run(upload_id=upload.id, force=True)
    with transaction.atomic(), _one_replacement_of(upload.replaces):
        upload_queue_again(upload, leaving=None, kind=None)
        transaction.on_commit(lambda: upload_enqueue(upload_id=upload.id, force=True))
    upload.refresh_from_db()
    return upload


def warehouse_reconcile(*, repair: bool = False, inline: bool = False) -> tuple[Reconciliation, list[Mismatch]]:
    """Compare every upload's rows with the warehouse (reconcile.py: mismatches marked, admins
    told). With `repair`: reprocess the uploads whose rows are missing or doubled (queued for a
    worker unless `inline`), and remove the rows of those that should have none (a replaced,
    failed or rejected upload's; the upload itself is left as it is). The reconciliation (run
    again after a repair that is done), and the mismatches repaired."""
    found = uploads_reconcile()
    repaired = []
    for mismatch in found.mismatches if repair else []:
        if mismatch.repair == "reprocess":
            upload_reprocess(upload_id=mismatch.upload_id, inline=inline)
        else:
            # The upload's span bounds it (reconcile.py's mismatch carries the id only).
            held = Upload.objects.filter(pk=mismatch.upload_id).first()
            warehouse().delete_batch(upload_id=mismatch.upload_id, span=held and held.warehouse_span)
            warehouse_version_bump()
        repaired.append(mismatch)
    if repaired and (inline or any(m.repair == "remove" for m in found.mismatches)):
        found = uploads_reconcile()  # what the warehouse holds now (marks cleared where it agrees)
    return found, repaired


def upload_delete_rows(*, upload_id) -> int:
    """Remove exactly this upload's rows from the warehouse (an operator's action); how many."""
    upload = Upload.objects.get(pk=upload_id)
    removed = warehouse().delete_batch(upload_id=str(upload.id), span=upload.warehouse_span)
    upload_rows_removed(upload.id)
    return removed
