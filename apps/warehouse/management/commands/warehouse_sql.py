import json

from django.core.management.base import BaseCommand, CommandError

from apps.warehouse.services import warehouse


class Command(BaseCommand):
    help = "Run a query against the configured warehouse, e.g. 'SELECT count(*) FROM \"orders-cleaned\"'."

    def add_arguments(self, parser) -> None:
        parser.add_argument("sql")
        parser.add_argument("--json", action="store_true", help="Print the rows as a JSON list.")

    def handle(self, *args, **options) -> None:
        try:
            rows = warehouse().query(options["sql"]).to_pylist()
        except Exception as exc:  # the engine's own message is what an operator needs
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(rows, default=str))
            return
        if not rows:
            self.stdout.write("(no rows)")
            return
        columns = list(rows[0])
        cells = [[("" if r[c] is None else str(r[c])) for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        self.stdout.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        self.stdout.write("  ".join("-" * w for w in widths))
        for row in cells:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        self.stdout.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
