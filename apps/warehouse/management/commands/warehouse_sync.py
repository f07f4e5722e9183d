import sys

from django.core.management.base import BaseCommand, CommandError

from apps.warehouse.base import WarehouseError
from apps.warehouse.services import warehouse_sync


class Command(BaseCommand):
    help = "Create or upgrade the fact table and the views (one per region, plus the master view)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Print what would change and change nothing; exit 1 if something would change.",
        )

    def handle(self, *args, **options) -> None:
        check = options["check"]
        try:
            changes = warehouse_sync(dry_run=check)
        except WarehouseError as exc:
            raise CommandError(str(exc)) from exc
        if not changes:
            self.stdout.write("Warehouse is up to date.")
            return
        prefix = "would " if check else ""
        self.stdout.write("\n".join(prefix + change for change in changes))
        if check:
            sys.exit(1)
