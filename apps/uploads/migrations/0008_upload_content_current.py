from django.db import migrations, models
from django.db.models import Exists, OuterRef

IN_WAREHOUSE = ("loaded", "loaded_with_errors")


def current_uploads_mark(apps, schema_editor) -> None:
    """Each shop's current upload of each content, as the duplicate check found it until now:
    the latest upload of that content that is not cancelled, not a held duplicate, and not
    replaced by a loaded upload since. One per content, even where parallel uploads left two."""
    Upload = apps.get_model("uploads", "Upload")
    replaced = Upload.objects.filter(replaces=OuterRef("pk"), status__in=IN_WAREHOUSE)
    candidates = (
        Upload.objects.exclude(status__in=("cancelled", "duplicate"))
        .filter(~Exists(replaced))
        .order_by("shop_id", "sha256", "-created_at")
        .values_list("pk", "shop_id", "sha256")
    )
    seen, current = set(), []
    for pk, shop_id, sha256 in candidates.iterator():
        if (shop_id, sha256) not in seen:
            seen.add((shop_id, sha256))
            current.append(pk)
    for start in range(0, len(current), 500):
        Upload.objects.filter(pk__in=current[start : start + 500]).update(content_current=True)


class Migration(migrations.Migration):
    dependencies = [
        ("uploads", "0007_upload_date_order"),
    ]

    operations = [
        migrations.AddField(
            model_name="upload",
            name="content_current",
            field=models.BooleanField(
                default=False,
                help_text="The shop's current upload of this content: later uploads of the same bytes are held as its "
                "duplicates. At most one per shop and content (a unique constraint decides between parallel uploads).",
            ),
        ),
        migrations.RunPython(current_uploads_mark, migrations.RunPython.noop),
    ]
