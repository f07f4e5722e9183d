"""Small builders the unit tests share: users outside the demo cast, and uploads of real files."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File

from apps.accounts.access import scope_for
from apps.accounts.models import Profile, Shop
from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.uploads.services import upload_create


def user_create(username: str, *, role: str | None = None, is_active: bool = True):
    """A user outside the demo cast; `role=None` means no Profile at all, `""` a profile with no role."""
    user = get_user_model().objects.create_user(username=username, password="x-unused-9", is_active=is_active)
    if role is not None:
        Profile.objects.create(user=user, role=role)
    return user


def upload_of(user, shop_code: str, path: Path, *, name: str | None = None, **options) -> Upload:
    """The upload `user` makes of a file for a shop, stored but not processed (nothing
    enqueued); `options` as upload_create takes them (replaces, on_overlap, ...)."""
    with path.open("rb") as fh:
        return upload_create(
            scope=scope_for(user),
            user=user,
            shop=Shop.objects.get(code=shop_code),
            file=File(fh),
            name=name or path.name,
            enqueue=False,
            **options,
        )


def upload_loaded(user, shop_code: str, path: Path, *, name: str | None = None, **options) -> Upload:
    """The same upload, run through the whole pipeline in this process."""
    return pipeline_run(upload_id=upload_of(user, shop_code, path, name=name, **options).id)
