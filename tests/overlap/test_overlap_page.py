"""The upload's page says which uploads (file, date, who) hold how many of its lines, offers
the four choices to whoever uploads for the shop, and shows the same keys under other shops."""

from django.utils import timezone

from apps.uploads.models import Upload, UploadEvent
from tests.overlap import copies
from tests.overlap.conftest import shop_totals


def test_the_page_lists_the_overlap_and_takes_a_choice(cast, load, sample, client_of, worker_inline):
    first = load("export.csv", sample("bernasiakk_usa.csv"))
    held = load("export_bom.csv", copies.BOM + sample("bernasiakk_usa.csv").read_bytes())
    manager = client_of("mgr_us_nyc")

    page = manager.get(f"/uploads/{held.id}/").content.decode()

    assert 'id="overlap-uploads"' in page and "<strong>291</strong> of this file's lines" in page
    assert f'href="/uploads/{first.id}/">export.csv</a>' in page and "mgr_us_nyc" in page
    assert f"<td>{timezone.localtime(first.created_at):%Y-%m-%d %H:%M}</td>" in page
    for value in ("new_only", "replace", "all", "cancel"):
        assert f'name="choice" value="{value}"' in page
    assert 'id="overlap-choice"' not in client_of("head_us").get(f"/uploads/{held.id}/").content.decode()

    with worker_inline():
        answer = manager.post(f"/uploads/{held.id}/overlap", {"choice": "replace"})

    assert answer.status_code == 302
    held.refresh_from_db()
    assert (held.status, held.rows_loaded, held.overlap_choice) == (Upload.Status.LOADED, 291, "replace")
    assert held.events.get(kind=UploadEvent.Kind.OVERLAP_CHOSEN).actor == cast["mgr_us_nyc"]
    assert shop_totals()["lines"] == 291
    after = manager.get(f"/uploads/{held.id}/").content.decode()
    assert "Chosen: Replace those uploads" in after and 'id="overlap-choice"' not in after


def test_the_same_keys_under_another_shop_are_said_on_the_page(cast, load, sample, client_of):
    load("export.csv", sample("bernasiakk_usa.csv"))
    other = load("sfo.csv", copies.BOM + sample("bernasiakk_usa.csv").read_bytes(), shop="US-SFO", user="admin")

    page = client_of("admin").get(f"/uploads/{other.id}/").content.decode()

    assert other.status == Upload.Status.LOADED
    assert 'id="overlap-other-shops"' in page and "US-NYC: 291" in page
