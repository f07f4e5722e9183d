"""Where an upload's files live in storage, and moving them between storage and the
worker's disk.

    raw/<country>/<yyyy>/<mm>/<dd>/<upload id>/<name>    the file as uploaded
    processed/<same folder>/<upload id>.parquet          its fact rows, as loaded
    rejected/<same folder>/<upload id>.csv               its refused rows' problems
    rejected/<same folder>/<upload id>.rows.csv|.xlsx    the refused rows themselves
"""

import fcntl
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import get_valid_filename

from apps.uploads.models import Upload
from salesapp.folders import temp_dir

# A run's work folders under TEMP_DIR, and the file whose lock says a live process holds one.
WORK_PREFIX = "etl-"
OWNER = ".owner"


class StorageWriteFailed(Exception):
    """A processed or rejected-rows file could not be stored (nothing was loaded)."""


def safe_file_name(name: str) -> str:
    """The last path part of a user's file name, reduced to safe characters and to 200 bytes
    (file systems count bytes: 300 'é' are 600), its suffix kept."""
    base = PurePath(name.replace("\\", "/")).name
    try:
        safe = get_valid_filename(base)
    except Exception:  # get_valid_filename refuses names like '..'; SuspiciousFileOperation
        return "upload"
    suffix = PurePath(safe).suffix[:16]
    stem = safe[: len(safe) - len(suffix)].encode()[: 200 - len(suffix.encode())]
    return stem.decode(errors="ignore") + suffix


def raw_path_for(upload: Upload, *, name: str) -> str:
    day = timezone.localdate(upload.created_at)
    country = upload.shop.region.country_code
    return f"raw/{country}/{day:%Y/%m/%d}/{upload.id}/{safe_file_name(name)}"


def _folder(upload: Upload) -> str:
    """<country>/<yyyy>/<mm>/<dd>/<upload id>, as under raw/."""
    return upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]


def processed_path(upload: Upload) -> str:
    return f"processed/{_folder(upload)}/{upload.id}.parquet"


def problems_path(upload: Upload) -> str:
    """Where the run keeps the refused rows' problems (source_row, column, value, reason)."""
    return f"rejected/{_folder(upload)}/{upload.id}.csv"


def rows_csv_path(upload: Upload) -> str:
    return f"rejected/{_folder(upload)}/{upload.id}.rows.csv"


def rows_xlsx_path(upload: Upload) -> str:
    return f"rejected/{_folder(upload)}/{upload.id}.rows.xlsx"


@contextmanager
def local_copy(storage_path: str) -> Iterator[Path]:
    """A local file path for the stored raw file (a temp copy when storage is remote)."""
    try:
        local = default_storage.path(storage_path)
    except NotImplementedError:
        local = None
    if local:
        yield Path(local)
        return
    with _held_folder() as tmp:
        target = tmp / Path(storage_path).name
        with default_storage.open(storage_path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        yield target


@contextmanager
def work_dir() -> Iterator[Path]:
    """A private folder for a run's DuckDB spill files and its outputs before they are stored."""
    with _held_folder() as tmp:
        yield tmp


@contextmanager
def _held_folder() -> Iterator[Path]:
    """A folder under TEMP_DIR (etl-*) that this process holds while the block runs: an
    exclusive flock on its .owner file, which the kernel drops when the process ends, however
    it ends (kill -9 too). The sweep removes the folders nobody holds (work_dirs_remove)."""
    folder = tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=temp_dir(), ignore_cleanup_errors=True)
    with folder as tmp, open(Path(tmp) / OWNER, "w") as owner:
        fcntl.flock(owner, fcntl.LOCK_EX)
        yield Path(tmp)


def work_dirs_remove() -> list[str]:
    """Remove the etl-* folders under TEMP_DIR that no live process holds (a run killed, or
    out of memory, left them: 74-106 MB each in the probe of issue 17); their names. A folder
    is locked right after it is made: those younger than UPLOAD_HEARTBEAT_STALE are left."""
    older_than = settings.UPLOAD_HEARTBEAT_STALE
    root = Path(settings.TEMP_DIR)
    removed = []
    for folder in sorted(root.glob(f"{WORK_PREFIX}*")) if root.is_dir() else []:
        try:
            young = time.time() - folder.stat().st_mtime < older_than
        except FileNotFoundError:
            continue
        if young or not folder.is_dir() or _held(folder):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


def _held(folder: Path) -> bool:
    try:
        owner = open(folder / OWNER, "a")  # noqa: SIM115 (closed below; "a": made if the run never made it)
    except OSError:  # the folder went meanwhile, or cannot be read: not ours to remove
        return True
    with owner:
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


class _TakenFile(File):
    """A local file the storage may take as it is: FileSystemStorage renames a file that has
    a temporary_file_path (on one disk, no copy); other storages read it as any file."""

    def temporary_file_path(self) -> str:
        return self.name


def store(path: str, local: Path, *, take: bool = False) -> str:
    """Store `local` under `path` (replacing what is there); with `take`, the storage may move
    it there (it may then be gone from `local`). StorageWriteFailed when storage refuses."""
    try:
        if default_storage.exists(path):
            default_storage.delete(path)
        with open(local, "rb") as fh:
            return default_storage.save(path, _TakenFile(fh, name=str(local)) if take else File(fh))
    except (ConnectionError, TimeoutError):
        raise  # transient: the task retries
    except OSError as exc:
        raise StorageWriteFailed(
            f"Could not store {path.split('/', 1)[0]}/ file ({exc.strerror or exc}); nothing was loaded. "
            "Reprocess the upload once storage is fixed."
        ) from exc


def local_path_of(stored: str) -> Path | None:
    """The stored file's path on this machine's disk, when storage is local."""
    try:
        return Path(default_storage.path(stored))
    except NotImplementedError:
        return None
