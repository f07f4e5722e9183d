import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.access import scope_for, scope_for_operator
from apps.accounts.models import Shop
from apps.etl.services import pipeline_run
from apps.uploads.models import Upload
from apps.uploads.selectors import upload_status
from apps.uploads.services import upload_create

SUMMARY_FIELDS = ["upload_id", "file", "status", "rows_read", "rows_loaded", "rows_rejected", "rows_dropped"]


class Command(BaseCommand):
    help = "Upload sales files from the command line; the ETL runs in the worker (or --inline)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--shop", required=True, help="Shop code, e.g. US-NYC.")
        parser.add_argument("--user", help="Upload as this user (their scope applies).")
        parser.add_argument("--wait", action="store_true", help="Wait until each upload ends.")
        parser.add_argument("--inline", action="store_true", help="Run the ETL in this process.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits.")
        parser.add_argument("--json", action="store_true", help="One JSON summary object per file.")

    def handle(self, *args, **options) -> None:
        shop = Shop.objects.filter(code=options["shop"]).select_related("region").first()
        if shop is None:
            raise CommandError(
                f"No shop {options['shop']!r}. Shops: {', '.join(Shop.objects.values_list('code', flat=True))}"
            )
        user, scope = self._user_and_scope(options["user"])
        missing = [str(p) for p in options["files"] if not p.is_file()]
        if missing:
            raise CommandError(f"{', '.join(missing)}: no such file")
        failed, refused = False, []
        for path in options["files"]:
            try:
                with path.open("rb") as fh:
                    upload = upload_create(
                        scope=scope, user=user, shop=shop, file=File(fh), name=path.name, enqueue=not options["inline"]
                    )
            except (ValidationError, PermissionDenied) as exc:
                # Refused before anything was stored: say why, and go on with the other files.
                refused.append(f"{path}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
                self.stderr.write(refused[-1])
                continue
            if options["inline"]:
                upload = pipeline_run(upload_id=upload.id)
            elif options["wait"]:
                upload = self._wait(upload, options["timeout"])
            failed |= upload.status in (Upload.Status.FAILED, Upload.Status.REJECTED)
            self._print(upload, as_json=options["json"])
        if refused:
            raise CommandError("Refused: " + "; ".join(refused), returncode=1)
        if failed:
            raise CommandError("At least one file failed or was rejected.", returncode=1)

    def _user_and_scope(self, username):
        if not username:
            return None, scope_for_operator()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        return user, scope_for(user)

    def _wait(self, upload: Upload, timeout: float) -> Upload:
        deadline = time.monotonic() + timeout
        while not upload.is_finished:
            if time.monotonic() > deadline:
                raise CommandError(f"Upload {upload.id} did not finish within {timeout:.0f}s (is a worker running?)")
            time.sleep(0.5)
            upload.refresh_from_db()
        return upload

    def _print(self, upload: Upload, *, as_json: bool) -> None:
        summary = {"upload_id": str(upload.id), "file": upload.original_name, **upload_status(upload)}
        summary = {k: summary[k] for k in SUMMARY_FIELDS} | {"message": upload.message}
        if as_json:
            self.stdout.write(json.dumps(summary))
        else:
            counts = ", ".join(
                f"{k.removeprefix('rows_')} {summary[k]}" for k in SUMMARY_FIELDS[3:] if summary[k] is not None
            )
            line = f"{upload.original_name}: {upload.get_status_display()} ({upload.id}) {counts} {upload.message}"
            self.stdout.write(line.rstrip())
