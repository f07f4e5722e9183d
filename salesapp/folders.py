"""The local folders under DATA_DIR, each made by the process that first needs it.

Reading the settings creates nothing on disk: a tool, an image build or a read-only container
that only reads them writes nothing. Each folder is made right before its first use:

- DATA_DIR, the SQLite file's folder: when a process first opens the database (salesapp/sqlite);
- TEMP_DIR (DATA_DIR/tmp): `temp_dir()`, before an upload streams to a temporary file there
  and before the ETL makes its work folder there (Django's FILE_UPLOAD_TEMP_DIR stays unset:
  its system check wants the folder to exist when any command starts);
- the filesystem broker's folders (DATA_DIR/broker): before a task is published and when a
  worker starts (salesapp/celery.py); Celery beat's schedule file's folder when beat opens
  it (salesapp/beat.py);
- the stored files (FileSystemStorage) and the embedded warehouse make their own.

Imports no app module: apps import it, as they import salesapp.logs.
"""

from pathlib import Path

from django.conf import settings


def temp_dir() -> Path:
    """TEMP_DIR, made if missing. Uploads stream to temporary files there and the ETL works
    there: on the stored files' disk, so a finished upload moves into storage by a rename."""
    path = Path(settings.TEMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def broker_folders_make(broker_url: str, transport_options: dict) -> None:
    """The folders of kombu's filesystem transport, made if missing (other brokers: nothing).
    kombu lists the queue folder to read it and fails if it is missing, writes each message
    into it, and makes the control folder only where its parent already exists."""
    if not str(broker_url or "").startswith("filesystem:"):
        return
    for key, value in transport_options.items():
        if "folder" in key:  # data_folder_in, data_folder_out, processed_folder, control_folder
            Path(value).mkdir(parents=True, exist_ok=True)
