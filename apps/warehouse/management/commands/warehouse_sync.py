from django.core.management.base import BaseCommand

from apps.warehouse.services import warehouse_sync


class Command(BaseCommand):
    help = "Create or upgrade the fact table and the views (one per region, plus the master view)."

    def handle(self, *args, **options) -> None:
        changes = warehouse_sync()
        self.stdout.write("\n".join(changes) if changes else "Warehouse is up to date.")
