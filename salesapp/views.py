from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from apps.accounts.access import scope_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Shop managers start at their uploads; everyone who reads reports at the reports."""
    scope = scope_for(request.user)
    return redirect("reports:master" if scope.everything or scope.country_codes else "uploads:index")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
