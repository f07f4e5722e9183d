from django.conf import settings
from django.core.management.base import BaseCommand

from apps.demo.seed import demo_seed
from apps.etl.schemas import warehouse_sync_with_schema


class Command(BaseCommand):
    help = "Create the demo regions, shops, users, sales schema and FX rates (safe to run again)."

    def handle(self, *args, **options) -> None:
        counts = demo_seed(password=settings.DEMO_PASSWORD)
        changes = warehouse_sync_with_schema()
        self.stdout.write(
            f"Demo ready: {counts['regions']} regions, {counts['shops']} shops, {counts['users']} users"
            + (f"; warehouse: {', '.join(changes)}" if changes else "")
        )
