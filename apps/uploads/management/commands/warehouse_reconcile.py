import json

from django.core.management.base import BaseCommand

from apps.uploads.services import warehouse_reconcile


class Command(BaseCommand):
    help = (
        "Compare the rows each upload says it loaded with the warehouse, per upload id (one grouped count); "
        "mark and report the differences. --repair reprocesses the current uploads whose rows differ. "
        "Exit status 1 while a difference stands."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repair", action="store_true", help="Reprocess the current uploads whose rows differ.")
        parser.add_argument("--inline", action="store_true", help="With --repair: run them here, not in a worker.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options) -> None:
        found, repaired = warehouse_reconcile(repair=options["repair"], inline=options["inline"])
        if options["json"]:
            body = {
                "checked": found.checked,
                "mismatches": [m.__dict__ for m in found.mismatches],
                "unknown": found.unknown,
                "repaired": [str(u.id) for u in repaired],
                "seconds": found.seconds,
            }
            self.stdout.write(json.dumps(body))
        else:
            self._report(found, repaired, inline=options["inline"])
        if found.mismatches or found.unknown:
            raise SystemExit(1)

    def _report(self, found, repaired, *, inline: bool) -> None:
        self.stdout.write(f"{found.checked} upload(s) compared with the warehouse in {found.seconds:.2f} s.")
        for m in found.mismatches:
            remove = f"remove them: manage.py upload_delete_rows {m.upload_id}"
            hint = "reprocess it (--repair)" if m.current else remove
            self.stdout.write(f"  {m.upload_id}: {m.found:,} rows in the warehouse, {m.expected:,} expected; {hint}")
        for upload_id, rows in found.unknown.items():
            self.stdout.write(f"  {upload_id}: {rows:,} rows of no known upload")
        for upload in repaired:
            done = f"{upload.rows_loaded or 0:,} rows loaded" if inline else "queued for a worker"
            self.stdout.write(f"  repaired {upload.id}: reprocessed, {upload.get_status_display().lower()}, {done}")
        if not (found.mismatches or found.unknown):
            self.stdout.write(self.style.SUCCESS("The warehouse holds the rows every upload loaded."))
