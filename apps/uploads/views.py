"""/uploads/: the form and the list, an upload's live page and status, the choice on a duplicate
or on an upload unlike the shop's usual ones, of a workbook's sheet, of a date order, and the
mapping step (matching a file's columns)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.access import Scope, scope_for
from apps.accounts.models import Region, Shop
from apps.etl.mappings import mapping_rows
from apps.etl.pipeline.extract import ACCEPTED_SUFFIXES
from apps.etl.schemas import NoActiveSchema, schema_spec_active
from apps.uploads import selectors
from apps.uploads.country_fixes import (
    alias_request_approve,
    alias_request_create,
    alias_request_decline,
    upload_country_map,
)
from apps.uploads.forms import DecisionForm, PlausibilityForm, UploadFilterForm, UploadForm
from apps.uploads.models import Upload
from apps.uploads.plausibility import plausibility_chart, plausibility_rows
from apps.uploads.rejected import rejected_downloads
from apps.uploads.services import (
    duplicate_sentence,
    upload_create,
    upload_date_order_choose,
    upload_decide,
    upload_mapping_confirm,
    upload_overlap_decide,
    upload_plausibility_decide,
    upload_sheet_choose,
)

PAGE_SIZE = 25


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_http_methods(["GET", "POST"])
def upload_index(request: HttpRequest) -> HttpResponse:
    scope = scope_for(request.user)
    shops = Shop.objects.filter(code__in=scope.upload_shop_codes)
    posted = request.method == "POST"
    form = UploadForm(request.POST if posted else None, request.FILES if posted else None, shops=shops)
    if posted:
        if not scope.upload_shop_codes:
            raise PermissionDenied("Your role cannot upload files.")
        upload = _create_from_form(request, scope, form)
        if upload is not None:
            url = reverse("uploads:detail", args=[upload.id])
            if _wants_json(request):
                return JsonResponse({"id": str(upload.id), "url": url, "status": upload.status}, status=201)
            return redirect(url)
        if _wants_json(request):
            if _refused(request):
                return JsonResponse({"errors": [_refused(request)]}, status=413)
            errors = [str(e) for errors in form.errors.values() for e in errors]
            return JsonResponse({"errors": errors}, status=400)
    filter_form = UploadFilterForm(
        request.GET or None, shop_codes=selectors.shop_codes_visible(scope=scope), auto_id="filter_%s"
    )
    page = Paginator(selectors.upload_list(scope=scope, filters=filter_form.filters()), PAGE_SIZE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "filter_form": filter_form,
        "can_upload": bool(scope.upload_shop_codes),
        "page": page.get_page(request.GET.get("page")),
        "query": query.urlencode(),
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        "suffixes": sorted(ACCEPTED_SUFFIXES),
        "alias_requests": selectors.alias_requests_pending(scope=scope),
    }
    return render(request, "uploads/index.html", context, status=400 if form.errors else 200)


def _refused(request: HttpRequest) -> str:
    """The upload handler's reason, when it stopped a body over the size limit unread."""
    return getattr(request, "upload_refused", "")


def _create_from_form(request: HttpRequest, scope: Scope, form: UploadForm) -> Upload | None:
    if _refused(request):
        form.is_valid()  # a refused body leaves the fields empty; say why, not "required"
        form.errors.clear()
        form.add_error(None, _refused(request))
        return None
    if not form.is_valid():
        return None
    replaces = None
    if form.cleaned_data["replaces"]:
        replaces = selectors.upload_get(scope=scope, upload_id=form.cleaned_data["replaces"])
    file = form.cleaned_data["file"]
    try:
        return upload_create(
            scope=scope,
            user=request.user,
            shop=form.cleaned_data["shop"],
            file=file,
            name=file.name,
            replaces=replaces,
            on_duplicate=form.cleaned_data["on_duplicate"] or "ask",
        )
    except (ValidationError, PermissionDenied) as exc:
        form.add_error("file", ValidationError(getattr(exc, "messages", [str(exc)])))
        return None


@login_required
@require_GET
def upload_detail(request: HttpRequest, upload_id) -> HttpResponse:
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    replaced_by = selectors.upload_replaced_by(upload)
    can_act = upload.shop.code in scope.upload_shop_codes
    may_rerun = can_act and upload.is_finished and not replaced_by and upload.status != Upload.Status.CANCELLED
    context = {
        "upload": upload,
        "status": selectors.upload_status(upload),
        "stages": [name for name, _ in selectors.STAGES],
        "replaced_by": replaced_by,
        "events": upload.events.select_related("actor"),
        "duplicate_note": duplicate_sentence(upload.duplicate_of) if upload.duplicate_of else "",
        "can_act": can_act,
        "sheet_choices": selectors.upload_sheet_choices(upload) if may_rerun else [],
        # Dates that read both ways (4/5/2011): the user may have them read the other way.
        "date_orders": Region.DateOrder.choices if may_rerun and upload.report.get("date_order_open") else [],
        "downloads": rejected_downloads(upload),
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "mismatch": selectors.upload_mismatch_note(upload),
        "outside_regions": selectors.upload_outside_regions_note(upload),
        # Rows rejected for a country no alias names: mapped for the shop, or an alias asked for.
        "country_fixes": selectors.upload_country_fixes(upload, can_fix=may_rerun),
        "can_approve": scope.everything,
        "plausibility": upload.report.get("plausibility") or {},
        "plausibility_chart": plausibility_chart(upload),
        "plausibility_rows": plausibility_rows(upload),
        "overlap": selectors.upload_overlap_found(upload),
        "overlap_choices": Upload.OverlapChoice.choices if can_act and upload.awaits_overlap_choice else [],
    }
    return render(request, "uploads/detail.html", context)


@login_required
@require_GET
def upload_status(request: HttpRequest, upload_id) -> JsonResponse:
    upload = selectors.upload_get(scope=scope_for(request.user), upload_id=upload_id)
    return JsonResponse(selectors.upload_status(upload))


@login_required
@require_POST
def upload_decision(request: HttpRequest, upload_id) -> HttpResponse:
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose replace or cancel.")
        return redirect("uploads:detail", upload_id=upload.id)
    try:
        upload = upload_decide(scope=scope, user=request.user, upload=upload, choice=form.cleaned_data["choice"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        done = "It replaces the earlier upload once loaded." if upload.replaces_id else "Nothing will be loaded."
        messages.success(request, f"{upload.get_status_display()}. {done}")
    return redirect("uploads:detail", upload_id=upload.id)


@login_required
@require_POST
def upload_plausibility(request: HttpRequest, upload_id) -> HttpResponse:
    """Confirm an upload held as unlike the shop's usual uploads (it loads), or cancel it."""
    form = PlausibilityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose confirm or cancel.")
        return redirect("uploads:detail", upload_id=upload_id)
    choice = form.cleaned_data["choice"]
    return _run_again(
        request,
        upload_id,
        lambda scope, user, upload: upload_plausibility_decide(scope=scope, upload=upload, choice=choice, by=user),
        lambda: "Confirmed: processing again, it loads." if choice == "confirm" else "Cancelled: nothing was loaded.",
    )


@login_required
@require_POST
def upload_overlap(request: HttpRequest, upload_id) -> HttpResponse:
    """The uploader's choice on an upload held for lines loaded before."""
    choice = request.POST.get("choice", "")
    if choice not in Upload.OverlapChoice.values:
        messages.error(request, "Choose what to do with the lines loaded before.")
        return redirect("uploads:detail", upload_id=upload_id)
    label = Upload.OverlapChoice(choice).label
    return _run_again(
        request,
        upload_id,
        lambda scope, user, upload: upload_overlap_decide(scope=scope, upload=upload, choice=choice, by=user),
        lambda: f"{label}: {'done' if choice == 'cancel' else 'processing again'}.",
    )


@login_required
@require_POST
def upload_dates(request: HttpRequest, upload_id) -> HttpResponse:
    order = request.POST.get("date_order", "")
    return _run_again(
        request,
        upload_id,
        lambda **who: upload_date_order_choose(**who, order=order),
        lambda: f"Processing again, reading dates {Region.DateOrder(order).label.lower()}.",
    )


@login_required
@require_POST
def upload_sheet(request: HttpRequest, upload_id) -> HttpResponse:
    sheet = request.POST.get("sheet", "")
    return _run_again(
        request,
        upload_id,
        lambda **who: upload_sheet_choose(**who, sheet=sheet),
        lambda: f"Processing again, reading sheet '{sheet}'.",
    )


def _run_again(request: HttpRequest, upload_id, choose, said) -> HttpResponse:
    """A choice on the upload (sheet, date order, a held upload's answer): made, or refused
    with the reason; back to the upload's page either way."""
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    try:
        choose(scope=scope, user=request.user, upload=upload)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, said())
    return redirect("uploads:detail", upload_id=upload.id)


@login_required
@require_http_methods(["GET", "POST"])
def upload_mapping(request: HttpRequest, upload_id) -> HttpResponse:
    """The mapping step: a shop manager matches a file's columns to the schema's fields."""
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("Only those who upload for this shop can map its files.")
    if not upload.report.get("needs_mapping"):
        return redirect("uploads:detail", upload_id=upload.id)
    try:
        spec = schema_spec_active()
    except NoActiveSchema as exc:  # none active, or one that cannot fill the fact table
        context = {"upload": upload, "rows": [], "columns": [], "errors": [str(exc)], "unavailable": True}
        return render(request, "uploads/mapping.html", context, status=503)
    chosen, errors = None, []
    if request.method == "POST":
        chosen = {f.name: request.POST.get(f"field-{f.name}", "") for f in spec.fields}
        try:
            upload_mapping_confirm(scope=scope, user=request.user, upload=upload, spec=spec, chosen=chosen)
        except ValidationError as exc:
            errors = exc.messages
        else:
            return redirect("uploads:detail", upload_id=upload.id)
    rows = mapping_rows(spec=spec, report=upload.report, chosen=chosen)
    columns = upload.report.get("columns", [])
    chosen_columns = {row["column"] for row in rows}
    context = {
        "upload": upload,
        "rows": rows,
        "columns": columns,
        "kept_aside": [c for c in columns if c not in chosen_columns],
        "errors": errors,
    }
    return render(request, "uploads/mapping.html", context, status=400 if errors else 200)


@login_required
@require_POST
def upload_countries(request: HttpRequest, upload_id) -> HttpResponse:
    """A country value the upload's rows were rejected for: mapped for the shop (then the
    upload is processed again), or an alias asked of the admins."""
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    value, code = request.POST.get("value", ""), request.POST.get("country_code", "")
    try:
        if request.POST.get("action") == "request":
            alias_request_create(scope=scope, user=request.user, upload=upload, value=value, country_code=code)
            said = f"Asked the admins to read '{value}' as {code} everywhere; processed again once approved."
        else:
            upload_country_map(scope=scope, user=request.user, upload=upload, value=value, country_code=code)
            said = f"'{value}' is read as {code} for {upload.shop.code}; processing again."
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, said)
    return redirect("uploads:detail", upload_id=upload.id)


@login_required
@require_POST
def alias_request_decision(request: HttpRequest, request_id: int) -> HttpResponse:
    """An admin's one click on a country alias request: approve (the alias is added and the
    uploads that asked are processed again) or decline."""
    scope = scope_for(request.user)
    try:
        if request.POST.get("decision") == "decline":
            alias_request_decline(scope=scope, user=request.user, request_id=request_id)
            messages.success(request, "Declined.")
        else:
            said = alias_request_approve(scope=scope, user=request.user, request_id=request_id)
            messages.success(request, " ".join(said))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/uploads/") else "uploads:index")
