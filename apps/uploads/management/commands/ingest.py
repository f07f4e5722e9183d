import json
import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.access import scope_for, scope_for_operator
from apps.accounts.models import Shop
from apps.etl.pipeline.extract import ACCEPTED_SUFFIXES
from apps.uploads.models import Upload
from apps.uploads.selectors import upload_status
from apps.uploads.services import DuplicateUpload, upload_create, upload_run_here

SUMMARY_FIELDS = ["upload_id", "file", "status", "rows_read", "rows_loaded", "rows_rejected", "rows_dropped"]
SUMMARY_FIELDS += ["rows_totals"]  # a spreadsheet's totals rows, dropped
# Exit code when a file is held for a person's choice (its lines loaded before, or unlike the shop's
# usual uploads) and none failed.
HELD_EXIT = 3
OVERLAP_FIELDS = ("id", "name", "uploaded_at", "uploaded_by", "lines")

HELD_SENTENCE = {
    Upload.Status.IMPLAUSIBLE: "unlike the shop's usual uploads: confirm or cancel it on its page (or run again with "
    "--accept-implausible)",
    Upload.Status.OVERLAP: "lines the shop has loaded already (status overlap): choose on its page, or run again "
    "with --on-overlap new-only|replace|all|cancel",
}


class Command(BaseCommand):
    help = "Upload sales files from the command line; the ETL runs in the worker (or --inline)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", type=Path, help="Files, or folders: every CSV/TSV/XLSX/XLS in them.")
        parser.add_argument("--shop", required=True, help="Shop code, e.g. US-NYC.")
        parser.add_argument("--user", help="Upload as this user (their scope applies).")
        parser.add_argument("--wait", action="store_true", help="Wait until each upload ends.")
        parser.add_argument("--inline", action="store_true", help="Run the ETL in this process.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits.")
        parser.add_argument("--json", action="store_true", help="One JSON summary object per file.")
        parser.add_argument(
            "--on-duplicate",
            choices=["skip", "replace", "ask"],
            default="skip",
            help="A file the shop already uploaded (same content): skip it (default), replace the earlier "
            "upload, or hold it for someone to choose on the web.",
        )
        parser.add_argument(
            "--accept-implausible",
            action="store_true",
            help="Load files even when they are unlike the shop's usual uploads (ten times the volume, prices a "
            "hundred times off, dates a year off, another currency); otherwise such a file is held (status "
            f"implausible, exit code {HELD_EXIT}) until someone confirms or cancels it on its page or through the API.",
        )
        parser.add_argument(
            "--on-overlap",
            choices=["ask", "new-only", "replace", "all", "cancel"],
            default="ask",
            help="A file some of whose lines the shop has loaded from other uploads: hold it with status overlap "
            f"(ask, the default: the summary gives the counts, exit code {HELD_EXIT}), load only the new lines, "
            "replace those uploads' overlapping lines with this file's, load everything anyway, or cancel it.",
        )

    def handle(self, *args, **options) -> None:
        shop = Shop.objects.filter(code=options["shop"]).select_related("region").first()
        if shop is None:
            raise CommandError(
                f"No shop {options['shop']!r}. Shops: {', '.join(Shop.objects.values_list('code', flat=True))}"
            )
        user, scope = self._user_and_scope(options["user"])
        missing = [str(p) for p in options["files"] if not p.exists()]
        if missing:
            raise CommandError(f"{', '.join(missing)}: no such file or folder")
        on_duplicate = {"skip": "cancel"}.get(options["on_duplicate"], options["on_duplicate"])
        on_overlap = options["on_overlap"].replace("-", "_")
        failed, held, refused = False, [], []
        for path in files_in(options["files"]):
            try:
                with path.open("rb") as fh:
                    upload = upload_create(
                        scope=scope,
                        user=user,
                        shop=shop,
                        file=File(fh),
                        name=path.name,
                        enqueue=not options["inline"],
                        on_duplicate=on_duplicate,
                        accept_implausible=options["accept_implausible"],
                        on_overlap=on_overlap,
                    )
            except DuplicateUpload as exc:
                # Scheduled jobs see the same folder again: an already-uploaded file is not an error.
                self.stdout.write(f"{path}: skipped, {exc.messages[0].split(' ', 1)[1]}")
                continue
            except (ValidationError, PermissionDenied) as exc:
                # Refused before anything was stored: say why, and go on with the other files.
                refused.append(f"{path}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
                self.stderr.write(refused[-1])
                continue
            if options["inline"] and upload.status == Upload.Status.QUEUED:
                upload = upload_run_here(upload_id=upload.id)
            elif options["wait"]:
                upload = self._wait(upload, options["timeout"])
            failed |= upload.status in (Upload.Status.FAILED, Upload.Status.REJECTED, Upload.Status.NEEDS_MAPPING)
            if upload.status in (Upload.Status.IMPLAUSIBLE, Upload.Status.OVERLAP):
                held.append(upload.status)
            self._print(upload, as_json=options["json"])
        if refused:
            raise CommandError("Refused: " + "; ".join(refused), returncode=1)
        if failed:
            raise CommandError("At least one file failed, was rejected or has columns to match.", returncode=1)
        if held:
            raise CommandError(
                "At least one file is held for a choice: "
                + "; ".join(sorted({HELD_SENTENCE[status] for status in held})),
                returncode=HELD_EXIT,
            )

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
        if upload.status == Upload.Status.IMPLAUSIBLE:
            summary["plausibility"] = {"reasons": upload.report.get("plausibility", {}).get("reasons", [])}
        found = upload.report.get("overlap") or {}
        if found.get("lines") or found.get("other_shops"):  # said only when something was found
            summary["overlap"] = {
                "lines": found["lines"],
                "uploads": [{k: u[k] for k in OVERLAP_FIELDS} for u in found["uploads"]],
                "other_shops": found["other_shops"],
                "choice": found["choice"],
            }
        if as_json:
            self.stdout.write(json.dumps(summary))
        else:
            counts = ", ".join(
                f"{k.removeprefix('rows_')} {summary[k]:,}"
                for k in SUMMARY_FIELDS[3:]
                if summary[k] is not None and k != "rows_totals"
            )
            if summary["rows_totals"]:
                counts += f", totals rows dropped {summary['rows_totals']:,}"
            line = f"{upload.original_name}: {upload.get_status_display()} ({upload.id}) {counts} {upload.message}"
            self.stdout.write(line.rstrip())


def files_in(paths: list[Path]) -> list[Path]:
    """The files given, with each folder replaced by its CSV/TSV/XLSX/XLS files (sorted, not
    recursive, hidden files left out), so a scheduled job can point at a drop folder."""
    found = []
    for path in paths:
        if path.is_dir():
            wanted = (p for p in path.iterdir() if p.suffix.lower() in ACCEPTED_SUFFIXES)
            found += sorted(p for p in wanted if p.is_file() and not p.name.startswith("."))
        else:
            found.append(path)
    return found
