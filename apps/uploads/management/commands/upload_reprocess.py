from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.uploads.models import Upload
from apps.uploads.services import upload_reprocess


class Command(BaseCommand):
    help = "Run an upload's ETL again from its raw file; its rows in the warehouse are replaced."

    def add_arguments(self, parser) -> None:
        parser.add_argument("upload_id")
        parser.add_argument("--inline", action="store_true", help="Run it in this process, not in a worker.")

    def handle(self, *args, **options) -> None:
        try:
            upload = upload_reprocess(upload_id=options["upload_id"], inline=options["inline"])
        except (Upload.DoesNotExist, ValueError) as exc:
            raise CommandError(f"No upload {options['upload_id']!r}") from exc
        except ValidationError as exc:
            # A malformed id, or another replacement of the same upload queued or running.
            raise CommandError(" ".join(exc.messages) if exc.code == "replacement_running" else
                               f"No upload {options['upload_id']!r}") from exc  # fmt: skip
        self.stdout.write(f"{upload.id} {upload.status}: {upload.rows_loaded or 0} rows loaded")
