"""`warehouse_sync`: here, not in the warehouse app, because what the warehouse must hold
includes the admin's schema fields (this app's), and the warehouse imports no app above it."""

import sys

from django.core.management.base import BaseCommand, CommandError

from apps.etl.schemas import warehouse_sync_with_schema
from apps.warehouse.base import Mismatch, WarehouseError


class Command(BaseCommand):
    help = (
        "Create or upgrade the fact table (the canonical columns and the active schema's added fields), "
        "the views (one per region, plus the master view) and, with --row-access, the row access policies."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Print what differs from what the app expects and change nothing; exit 1 if anything differs.",
        )
        parser.add_argument(
            "--row-access",
            action="store_true",
            default=None,
            help="Also make the row access policies on orders-cleaned (BigQuery): one per region with a "
            "Looker group, and the TRUE filter for BIGQUERY_SERVICE_ACCOUNT (BIGQUERY_ROW_ACCESS=true: always).",
        )

    def handle(self, *args, **options) -> None:
        check = options["check"]
        try:
            changes = warehouse_sync_with_schema(dry_run=check, row_access=options["row_access"])
        except WarehouseError as exc:
            raise CommandError(str(exc)) from exc
        if not changes:
            self.stdout.write("Warehouse is up to date.")
            return
        # A mismatch is said as it is: no sync fixes it, so it is never "would".
        self.stdout.write("\n".join(("" if isinstance(c, Mismatch) or not check else "would ") + c for c in changes))
        if check or any(isinstance(c, Mismatch) for c in changes):
            sys.exit(1)
