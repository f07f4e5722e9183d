"""Recording data taken out of the platform: one AuditEvent per download or export."""

from django.http import HttpRequest

from apps.accounts.access import Scope
from apps.audit.models import AuditEvent


def scope_summary(scope: Scope) -> dict:
    if scope.everything:
        return {"role": scope.role, "everything": True}
    return {"role": scope.role, "countries": sorted(scope.country_codes), "shops": sorted(scope.shop_codes)}


def audit_record(*, request: HttpRequest, scope: Scope, action: str, target: str, detail: dict) -> AuditEvent:
    user = request.user
    return AuditEvent.objects.create(
        actor=user if user.is_authenticated else None,
        username=user.get_username(),
        action=action,
        target=str(target)[:255],
        scope=scope_summary(scope),
        detail=detail,
        ip=request.META.get("REMOTE_ADDR") or None,
    )
