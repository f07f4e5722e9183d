from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from apps.accounts.access import scope_for
from salesapp.health import readiness
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
    """Ready: database, broker, storage and warehouse all reachable (503 otherwise)."""
    checks = readiness()
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format: uploads by status, ETL durations, rows per second, queue depth."""
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
