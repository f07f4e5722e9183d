"""What decides between parallel uploads of one file, and parallel replacements of one
upload, is the database: a unique constraint on the shop's current upload of a content, and
one on an upload's pending replacement. These tests make a request lose the race in one
process (its first look misses the winner, as a request running at the same moment does);
tests/integration/test_parallel_uploads.py fires real parallel requests."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads import run as run_module
from apps.uploads import services
from apps.uploads.models import Upload
from apps.uploads.run import upload_run
from apps.uploads.services import upload_create, upload_decide

from .helpers import CORRECTED, SOME_BAD


def _create(user, content: str, **kwargs) -> Upload:
    return upload_create(
        scope=scope_for(user),
        user=user,
        shop=Shop.objects.get(code="US-NYC"),
        file=File(io.BytesIO(content.encode()), name="sales.csv"),
        name="sales.csv",
        **{"enqueue": False, **kwargs},
    )


def _first_look_misses(monkeypatch, name: str) -> None:
    """The service's first look at `name` sees nothing, as in a request racing the winner."""
    real = getattr(services, name)
    calls = {"n": 0}

    def racing(*args, **kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args, **kwargs)

    monkeypatch.setattr(services, name, racing)


def test_the_database_holds_one_current_upload_per_shop_and_content(cast):
    first = _create(cast["mgr_us_nyc"], SOME_BAD)
    assert first.content_current

    twin = Upload(shop=first.shop, sha256=first.sha256, original_name="twin.csv", content_current=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save(force_insert=True)


def test_an_upload_that_loses_the_race_for_a_content_is_held_as_its_duplicate(cast, monkeypatch):
    first = _create(cast["mgr_us_nyc"], SOME_BAD)
    _first_look_misses(monkeypatch, "upload_current_of_content")

    second = _create(cast["mgr_us_nyc"], SOME_BAD, enqueue=True)

    assert (second.status, second.duplicate_of, second.content_current) == (Upload.Status.DUPLICATE, first, False)
    assert default_storage.exists(second.raw_path)  # kept until the user chooses, as for any held duplicate


def test_an_upload_that_loses_the_race_with_on_duplicate_cancel_is_refused_and_nothing_kept(
    cast, monkeypatch, data_dir
):
    first = _create(cast["mgr_us_nyc"], SOME_BAD)
    _first_look_misses(monkeypatch, "upload_current_of_content")

    with pytest.raises(services.DuplicateUpload) as refused:
        _create(cast["mgr_us_nyc"], SOME_BAD, on_duplicate="cancel")

    assert refused.value.earlier == first
    assert list(Upload.objects.all()) == [first]
    assert [p for p in (data_dir / "files").rglob("*") if p.is_file()] == [data_dir / "files" / first.raw_path]


def test_a_replacement_that_loses_the_race_is_told_one_is_already_running_and_nothing_kept(cast, monkeypatch):
    first = upload_run(upload_id=_create(cast["mgr_us_nyc"], SOME_BAD).id)
    fixed = _create(cast["mgr_us_nyc"], CORRECTED, replaces=first)
    _first_look_misses(monkeypatch, "upload_replacement_pending")

    with pytest.raises(ValidationError, match=r"A replacement of 'sales\.csv' is already running \('sales\.csv'"):
        _create(cast["mgr_us_nyc"], CORRECTED + "\n", replaces=first)

    assert set(Upload.objects.all()) == {first, fixed}


def test_choosing_replace_on_a_held_duplicate_while_a_replacement_runs_is_refused(cast, monkeypatch):
    first = upload_run(upload_id=_create(cast["mgr_us_nyc"], SOME_BAD).id)
    held = _create(cast["mgr_us_nyc"], SOME_BAD)
    _create(cast["mgr_us_nyc"], CORRECTED, replaces=first)
    monkeypatch.setattr(services, "replacement_check", lambda **_: None)  # as if checked before that one came

    with pytest.raises(ValidationError, match="is already running"):
        upload_decide(scope=scope_for(cast["mgr_us_nyc"]), user=cast["mgr_us_nyc"], upload=held, choice="replace")

    held.refresh_from_db()
    assert (held.status, held.replaces) == (Upload.Status.DUPLICATE, None)


def test_a_loaded_replacement_of_the_same_content_takes_over_as_the_current_upload(cast):
    user = cast["mgr_us_nyc"]
    first = upload_run(upload_id=_create(user, SOME_BAD).id)
    held = _create(user, SOME_BAD)
    upload_decide(scope=scope_for(user), user=user, upload=held, choice="replace")

    upload_run(upload_id=held.id)

    first.refresh_from_db()
    held.refresh_from_db()
    assert (first.content_current, held.content_current) == (False, True)
    assert _create(user, SOME_BAD).duplicate_of == held


def test_a_replacement_with_another_current_uploads_content_is_refused(cast):
    user = cast["mgr_us_nyc"]
    first = upload_run(upload_id=_create(user, SOME_BAD).id)
    other = upload_run(upload_id=_create(user, CORRECTED).id)

    with pytest.raises(ValidationError, match=r"It cannot also replace 'sales\.csv'"):
        _create(user, CORRECTED, replaces=first)

    assert set(Upload.objects.all()) == {first, other}


def test_a_runs_ending_keeps_what_others_changed_on_the_upload_meanwhile(cast, monkeypatch):
    """The run holds a copy of the upload from its claim: its ending saves what the run
    decided, not a stale claim of the content (a replacement that ended meanwhile took it)."""
    upload = _create(cast["mgr_us_nyc"], SOME_BAD)
    real = run_module.upload_stage

    def stage(upload_id, name, **rows) -> None:
        if name == "loading":
            Upload.objects.filter(pk=upload_id).update(content_current=False)
        real(upload_id, name, **rows)

    monkeypatch.setattr(run_module, "upload_stage", stage)
    done = upload_run(upload_id=upload.id)

    done.refresh_from_db()
    assert (done.status, done.content_current) == (Upload.Status.LOADED_WITH_ERRORS, False)
