from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.accounts.access import scope_for
from salesapp.health import OK, readiness
from salesapp.metrics import registry as metrics_registry


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Shop managers start at their uploads; everyone who reads reports at the reports."""
    scope = scope_for(request.user)
    return redirect("reports:master" if scope.everything or scope.country_codes else "uploads:index")


def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the process answers (no dependency is touched)."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: database, broker, storage and warehouse all reachable (503 otherwise).

    Open to probes, so each component says one word ("ok", "unavailable", or a check's own
    such as "mismatch") and nothing internal; why is in the log, and shown to staff (who run
    the platform and would otherwise need the server's log) under "details". A state that
    does not block (the warehouse's "mismatch") answers 200 with the status "degraded"."""
    components = readiness()
    blocked = any(c.state != OK and c.blocking for c in components.values())
    degraded = any(c.state != OK for c in components.values())
    status = "unavailable" if blocked else "degraded" if degraded else "ok"
    body = {"status": status, "checks": {name: c.state for name, c in components.items()}}
    if request.user.is_staff:
        body["details"] = {name: c.detail for name, c in components.items() if c.detail}
    return JsonResponse(body, status=503 if blocked else 200)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: uploads by status, ETL durations, rows per second, queue depth.

    Open when METRICS_TOKEN is unset (keep it to the internal network at the proxy); with
    it set, the scraper must send `Authorization: Bearer <METRICS_TOKEN>`."""
    expected = f"Bearer {settings.METRICS_TOKEN}"
    if settings.METRICS_TOKEN and not constant_time_compare(request.headers.get("Authorization", ""), expected):
        response = HttpResponse("A bearer token is needed.", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
