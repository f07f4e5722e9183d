"""The audit log: admin changes (and admin actions) are in Django's admin log; every data
download and export is an AuditEvent saying who, what, when and within which scope; the
audit log is read-only in the admin."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.audit.models import AuditEvent
from apps.uploads.models import Upload
from apps.uploads.run import upload_run
from tests.factories import upload_of
from tests.uploads.helpers import SOME_BAD


@pytest.fixture
def with_errors(cast, tmp_path) -> Upload:
    path = tmp_path / "march.csv"
    path.write_text(SOME_BAD)
    return upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)


def _client(user) -> Client:
    client = Client(REMOTE_ADDR="192.0.2.10")
    client.force_login(user)
    return client


def test_an_admin_change_is_in_the_admin_log(cast):
    admin = _client(cast["admin"])
    shop = cast["mgr_uk_lon"].profile.shops.get()
    data = {"code": shop.code, "name": "London flagship", "region": shop.region_id, "expected_upload_every_days": 7}

    response = admin.post(reverse("admin:accounts_shop_change", args=[shop.pk]), data)

    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(shop.pk))
    assert (entry.user, entry.action_flag) == (cast["admin"], CHANGE)
    assert "Name" in entry.get_change_message()


def test_admin_actions_on_uploads_are_in_the_admin_log(cast, with_errors):
    admin = _client(cast["admin"])
    data = {"action": "delete_rows", "_selected_action": [str(with_errors.id)]}

    response = admin.post(reverse("admin:uploads_upload_changelist"), data)

    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(with_errors.id))
    assert (entry.user, entry.action_flag) == (cast["admin"], CHANGE)
    assert entry.change_message == "Deleted its 3 row(s) from the warehouse."


def test_a_report_export_is_recorded_with_who_what_and_scope(cast):
    head = _client(cast["head_uk"])

    response = head.get(
        reverse("reports:export", args=["kpis", "csv"]) + "?preset=custom&start=2011-01-01&end=2011-01-31"
    )

    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.actor, event.username, event.action, event.target) == (
        cast["head_uk"],
        "head_uk",
        AuditEvent.Action.REPORT_EXPORT,
        "kpis.csv",
    )
    assert event.scope == {"role": "regional_head", "countries": ["GB"], "shops": ["UK-LON", "UK-MAN"]}
    assert event.detail["filter"]["start"] == "2011-01-01"
    assert event.ip == "192.0.2.10"


def test_raw_and_rejected_downloads_are_recorded_on_the_web_and_the_api(cast, with_errors):
    manager = _client(cast["mgr_us_nyc"])
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast['head_us']).key}")

    for response in (
        manager.get(reverse("uploads:raw", args=[with_errors.id])),
        manager.get(reverse("uploads:rejected", args=[with_errors.id, "xlsx"])),
        api.get(reverse("api:upload-rejected", args=[with_errors.id])),
    ):
        assert response.status_code == 200

    seen = list(AuditEvent.objects.order_by("at", "id").values_list("username", "action", "target", "detail"))
    target = str(with_errors.id)
    assert seen == [
        ("mgr_us_nyc", "raw_download", target, {"file": "march.csv", "shop": "US-NYC"}),
        ("mgr_us_nyc", "rejected_download", target, {"file": "march.csv", "shop": "US-NYC", "format": "xlsx"}),
        ("head_us", "api_rejected_download", target, {"file": "march.csv", "shop": "US-NYC", "format": "csv"}),
    ]


def test_a_refused_download_records_nothing(cast, with_errors):
    outsider = _client(cast["mgr_uk_lon"])

    assert outsider.get(reverse("uploads:raw", args=[with_errors.id])).status_code == 404
    assert not AuditEvent.objects.exists()


def test_the_audit_log_is_read_only_in_the_admin(cast):
    head = _client(cast["head_uk"])
    head.get(reverse("reports:export", args=["kpis", "json"]))
    event = AuditEvent.objects.get()
    admin = _client(cast["admin"])

    assert admin.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    assert admin.get(reverse("admin:audit_auditevent_change", args=[event.pk])).status_code == 200
    assert admin.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert admin.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    changed = admin.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {"username": "someone"})
    assert changed.status_code == 403
    assert AuditEvent.objects.get().username == "head_uk"
