from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads import selectors
from apps.uploads.forms import UploadForm
from apps.uploads.services import upload_create


@login_required
@require_http_methods(["GET", "POST"])
def upload_index(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    shops = Shop.objects.filter(code__in=scope.upload_shop_codes)
    form = UploadForm(request.POST or None, request.FILES or None, shops=shops)
    if request.method == "POST":
        if not scope.upload_shop_codes:
            raise PermissionDenied("Your role cannot upload files.")
        if form.is_valid():
            file = form.cleaned_data["file"]
            try:
                upload = upload_create(
                    scope=scope, user=request.user, shop=form.cleaned_data["shop"], file=file, name=file.name
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return redirect("uploads:detail", upload_id=upload.id)
    context = {
        "form": form,
        "can_upload": bool(scope.upload_shop_codes),
        "uploads": selectors.upload_list(scope=scope)[:50],
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "uploads/index.html", context, status=400 if form.errors else 200)


@login_required
@require_GET
def upload_detail(request: HttpRequest, upload_id) -> HttpResponse:
    upload = selectors.upload_get(scope=scope_for(request.user), upload_id=upload_id)
    return render(request, "uploads/detail.html", {"upload": upload, "status": selectors.upload_status(upload)})


@login_required
@require_GET
def upload_status(request: HttpRequest, upload_id) -> JsonResponse:
    upload = selectors.upload_get(scope=scope_for(request.user), upload_id=upload_id)
    return JsonResponse(selectors.upload_status(upload))
