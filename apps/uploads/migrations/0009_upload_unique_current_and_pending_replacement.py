from django.db import migrations, models
from django.db.models import Count, Q

PENDING = ("queued", "processing")


def no_two_pending_replacements(apps, schema_editor) -> None:
    """The constraint below cannot be created while an upload has two replacements queued
    or running (the race it closes): say so, rather than fail with the database's words."""
    Upload = apps.get_model("uploads", "Upload")
    doubled = (
        Upload.objects.filter(replaces__isnull=False, status__in=PENDING)
        .values("replaces")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    if doubled.exists():
        ids = ", ".join(str(row["replaces"]) for row in doubled[:10])
        raise RuntimeError(
            f"Uploads {ids} each have more than one replacement queued or running. Let the workers finish them, "
            "then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("uploads", "0008_upload_content_current"),
    ]

    operations = [
        migrations.RunPython(no_two_pending_replacements, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="upload",
            constraint=models.UniqueConstraint(
                condition=Q(content_current=True), fields=("shop", "sha256"), name="uploads_one_current_per_content"
            ),
        ),
        migrations.AddConstraint(
            model_name="upload",
            constraint=models.UniqueConstraint(
                condition=Q(replaces__isnull=False, status__in=["queued", "processing"]),
                fields=("replaces",),
                name="uploads_one_pending_replacement",
            ),
        ),
    ]
