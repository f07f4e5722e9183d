import json

from django.core.management.base import BaseCommand

from apps.uploads.services import warehouse_reconcile


class Command(BaseCommand):
    help = (
        "Compare the rows each upload says it loaded with the warehouse, per upload id (one grouped count); "
        "mark and report the differences. --repair reprocesses the uploads whose rows are missing or doubled, "
        "and removes the rows of uploads that should have none. Exit status 1 while a difference stands."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repair", action="store_true", help="Reprocess or remove, as each difference needs.")
        parser.add_argument("--inline", action="store_true", help="With --repair: run them here, not in a worker.")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options) -> None:
        found, repaired = warehouse_reconcile(repair=options["repair"], inline=options["inline"])
        if options["json"]:
            body = {
                "checked": found.checked,
                "mismatches": [{**m.__dict__, "repair": m.repair} for m in found.mismatches],
                "unknown": found.unknown,
                "repaired": [m.upload_id for m in repaired],
                "seconds": found.seconds,
            }
            self.stdout.write(json.dumps(body))
        else:
            self._report(found, repaired, inline=options["inline"])
        if found.mismatches or found.unknown:
            raise SystemExit(1)

    def _report(self, found, repaired, *, inline: bool) -> None:
        for m in repaired:
            if m.repair == "remove":
                self.stdout.write(f"Repaired {m.upload_id}: its {m.found:,} rows removed (it should hold none).")
            else:
                done = "reprocessed" if inline else "reprocess queued for a worker (compared again when it ends)"
                self.stdout.write(f"Repaired {m.upload_id}: {m.found:,} rows found, {m.expected:,} expected; {done}.")
        self.stdout.write(f"{found.checked} upload(s) compared with the warehouse in {found.seconds:.2f} s.")
        for m in found.mismatches:
            todo = "reprocess it" if m.repair == "reprocess" else "remove its rows"
            self.stdout.write(f"  {m.upload_id}: {m.found:,} rows in the warehouse, {m.expected:,} expected ({todo})")
        for upload_id, rows in found.unknown.items():
            self.stdout.write(f"  {upload_id}: {rows:,} rows of no known upload")
        if not (found.mismatches or found.unknown):
            self.stdout.write(self.style.SUCCESS("The warehouse holds the rows every upload loaded."))
