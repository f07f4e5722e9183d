from django.core.management.base import BaseCommand

from apps.uploads.days_backfill import upload_days_backfill


class Command(BaseCommand):
    help = (
        "Record the order days of uploads loaded before they were kept (read from the warehouse once): "
        "the report pages read their days with data and coverage from them. Run once after upgrading."
    )

    def handle(self, *args, **options) -> None:
        done = upload_days_backfill()
        self.stdout.write(f"Recorded the days of {done} upload{'s' if done != 1 else ''}.")
