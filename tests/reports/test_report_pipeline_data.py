"""The reports on rows loaded by the real ETL pipeline from a real sample file."""

import pytest
from django.core.files import File
from django.urls import reverse

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.run import pipeline_run
from apps.uploads.services import upload_create
from tests.reports.facts import fast_password_hashing  # noqa: F401 (fixture)


@pytest.mark.usefixtures("fast_password_hashing")
def test_order_lines_trace_back_to_the_uploaded_file_and_row(client, cast, sample):
    user = cast["mgr_us_nyc"]
    path = sample("bernasiakk_usa.csv")
    with path.open("rb") as fh:
        upload = upload_create(scope=scope_for(user), user=user, shop=Shop.objects.get(code="US-NYC"),
                               file=File(fh), name=path.name, enqueue=False)  # fmt: skip
    pipeline_run(upload_id=upload.id)
    client.force_login(user)

    dashboard = client.get(reverse("reports:master"))
    lines = client.get(f"{reverse('reports:lines')}?preset=year")

    assert dashboard.status_code == lines.status_code == 200
    assert dashboard.context["report"].end.year == 2011  # the file's latest day, not today
    row = lines.context["rows"][0]
    assert (row["file_name"], row["upload_url"]) == (path.name, reverse("uploads:detail", args=[upload.id]))
    assert 1 <= row["source_row"] <= 291
