"""Services: rows rejected for an unknown country, fixed in place.

From the upload's page, whoever uploads for the shop maps the value for their shop
(`Unspecified` -> the shop's country), or asks an admin for a global alias, which the admin
approves in one click. Either way the upload is processed again: its rows replace its own
batch in the warehouse (replace_batch by upload id), so the rows once rejected load into
the same upload, never as a second copy. Entries (views, admin) call these functions.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.access import Scope
from apps.etl.country_mappings import country_alias_add, country_code_checked, country_value_key, shop_country_map
from apps.uploads.audit import event_record
from apps.uploads.models import CountryAliasRequest, Upload, UploadEvent
from apps.uploads.selectors import unknown_country_values
from apps.uploads.services import upload_run_again


def _value_of(upload: Upload, value: str) -> str:
    """The upload's unknown value `value` names (as the file writes it); refused otherwise."""
    key = country_value_key(value)
    for known in unknown_country_values(upload):
        if country_value_key(known) == key:
            return known
    raise ValidationError(f"'{value}' is not a country value this upload's rows were rejected for.")


def _may_fix(scope: Scope, upload: Upload) -> None:
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("Only those who upload for this shop can fix its rejected rows.")


def upload_country_map(*, scope: Scope, user, upload: Upload, value: str, country_code: str) -> Upload:
    """Map `value` to `country_code` for the upload's shop, and process the upload again."""
    _may_fix(scope, upload)
    value = _value_of(upload, value)
    with transaction.atomic():
        mapping = shop_country_map(shop=upload.shop, value=value, country_code=country_code, user=user)
        detail = f"{value} -> {mapping.country_code} for {upload.shop.code}"
        return upload_run_again(upload, user=user, kind=UploadEvent.Kind.COUNTRY_MAPPED, detail=detail)


def alias_request_create(*, scope: Scope, user, upload: Upload, value: str, country_code: str) -> CountryAliasRequest:
    """Ask an admin to add `value` -> `country_code` as a global alias (one pending request
    per upload and value: asking again changes the country proposed)."""
    _may_fix(scope, upload)
    value = _value_of(upload, value)
    code = country_code_checked(country_code)
    key = country_value_key(value)
    with transaction.atomic():
        request, _ = CountryAliasRequest.objects.update_or_create(
            upload=upload,
            value=key,
            decision=CountryAliasRequest.Decision.PENDING,
            defaults={"country_code": code, "requested_by": user, "requested_at": timezone.now()},
        )
        event_record(upload=upload, kind=UploadEvent.Kind.ALIAS_REQUESTED, actor=user, detail=f"{value} -> {code}")
    return request


def alias_request_approve(*, scope: Scope, user, request_id: int) -> list[str]:
    """Add the global alias, approve every pending request of that value and country, and
    process each of their uploads again. What happened to each upload, as sentences."""
    if not scope.everything:
        raise PermissionDenied("Only an admin approves country aliases.")
    with transaction.atomic():
        request = _pending(request_id)
        alias = country_alias_add(value=request.value, country_code=request.country_code)
        same = CountryAliasRequest.objects.select_for_update().filter(
            decision=CountryAliasRequest.Decision.PENDING, value=request.value, country_code=request.country_code
        )
        approved = list(same.select_related("upload"))
        same.update(decision=CountryAliasRequest.Decision.APPROVED, decided_by=user, decided_at=timezone.now())
    said = [f"'{alias.alias}' is now an alias of {alias.country_code}."]
    for each in approved:
        upload = each.upload
        try:
            detail = f"{each.value} -> {each.country_code}"
            upload_run_again(upload, user=user, kind=UploadEvent.Kind.ALIAS_APPROVED, detail=detail)
        except ValidationError as exc:
            said.append(f"{upload.original_name}: not processed again ({' '.join(exc.messages)})")
        else:
            said.append(f"{upload.original_name} ({upload.shop.code}) is being processed again.")
    return said


def alias_request_decline(*, scope: Scope, user, request_id: int) -> CountryAliasRequest:
    if not scope.everything:
        raise PermissionDenied("Only an admin declines country aliases.")
    with transaction.atomic():
        request = _pending(request_id)
        request.decision, request.decided_by, request.decided_at = "declined", user, timezone.now()
        request.save(update_fields=["decision", "decided_by", "decided_at"])
        detail = f"{request.value} -> {request.country_code}"
        event_record(upload=request.upload, kind=UploadEvent.Kind.ALIAS_DECLINED, actor=user, detail=detail)
    return request


def _pending(request_id: int) -> CountryAliasRequest:
    request = (
        CountryAliasRequest.objects.select_for_update()
        .select_related("upload")
        .filter(pk=request_id, decision=CountryAliasRequest.Decision.PENDING)
        .first()
    )
    if request is None:
        raise ValidationError("This request is no longer waiting for a decision.")
    return request
