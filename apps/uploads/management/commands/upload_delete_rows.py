from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.uploads.models import Upload
from apps.uploads.services import upload_delete_rows


class Command(BaseCommand):
    help = "Remove exactly one upload's rows from the warehouse (the upload and its files stay)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("upload_id")

    def handle(self, *args, **options) -> None:
        try:
            removed = upload_delete_rows(upload_id=options["upload_id"])
        except (Upload.DoesNotExist, ValidationError, ValueError) as exc:
            raise CommandError(f"No upload {options['upload_id']!r}") from exc
        self.stdout.write(f"Removed {removed} rows of upload {options['upload_id']}.")
