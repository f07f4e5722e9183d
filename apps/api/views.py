"""/api/: programmatic uploads with a per-user token. Every endpoint starts with scope_for,
and reads and writes go through the same selectors and services as the web pages."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.api.serializers import (
    DecisionSerializer,
    OverlapDecisionSerializer,
    PlausibilitySerializer,
    SheetSerializer,
    UploadCreateSerializer,
    UploadStatusSerializer,
)
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.uploads import selectors
from apps.uploads.downloads import rejected_response
from apps.uploads.forms import UploadFilterForm
from apps.uploads.models import Upload
from apps.uploads.rejected import rejected_downloads
from apps.uploads.services import (
    DuplicateUpload,
    upload_create,
    upload_decide,
    upload_overlap_decide,
    upload_plausibility_decide,
    upload_sheet_choose,
)

PAGE_SIZE = 100


def upload_body(request: Request, upload: Upload, *, replaced_by: dict | None = None) -> dict:
    """The upload as the API gives it; `replaced_by` (upload id -> the id of the loaded upload
    that took its place), when a list looked them up in one query."""

    def url(name: str, *args) -> str:
        return request.build_absolute_uri(reverse(name, args=args))

    downloads = rejected_downloads(upload)
    return {
        **selectors.upload_status(upload),
        "file": upload.original_name,
        "shop": upload.shop.code,
        "uploaded_by": upload.uploaded_by.username if upload.uploaded_by else None,
        "size_bytes": upload.size_bytes,
        "sha256": upload.sha256,
        "replaces": upload.replaces_id,
        "replaced_by": (
            replaced_by.get(upload.id)
            if replaced_by is not None
            else getattr(selectors.upload_replaced_by(upload), "id", None)
        ),
        "duplicate_of": upload.duplicate_of_id,
        "errors_by_reason": upload.report.get("errors_by_reason", {}),
        # Loaded rows per customer country; the note names those no region covers.
        "countries": upload.report.get("countries", {}),
        "outside_regions": selectors.upload_outside_regions_note(upload),
        "sheet": (upload.report.get("file") or {}).get("sheet"),
        "sheets": selectors.upload_sheets(upload),
        "plausibility": upload.report.get("plausibility"),
        "status_url": url("api:upload", upload.id),
        "page_url": url("uploads:detail", upload.id),
        "rejected_csv_url": url("api:upload-rejected", upload.id) if "csv" in downloads else None,
        "overlap": upload.report.get("overlap"),
    }


def _error(message: str, code: int) -> Response:
    return Response({"detail": message}, status=code)


@extend_schema(
    methods=["POST"],
    request={"multipart/form-data": UploadCreateSerializer},
    responses={
        201: UploadStatusSerializer,
        400: OpenApiTypes.OBJECT,
        409: OpenApiTypes.OBJECT,
        413: OpenApiTypes.OBJECT,
    },
    description="Upload a file. 201 with its status URL; the ETL runs in a worker. Poll status_url.",
)
@extend_schema(
    methods=["GET"],
    parameters=[
        OpenApiParameter("status", str, enum=Upload.Status.values, description="Only uploads with this status."),
        OpenApiParameter("shop", str, description="Only this shop's uploads (a shop code in your scope)."),
        OpenApiParameter("date_from", OpenApiTypes.DATE, description="Uploaded on or after this day."),
        OpenApiParameter("date_to", OpenApiTypes.DATE, description="Uploaded on or before this day."),
    ],
    responses={200: UploadStatusSerializer(many=True), 400: OpenApiTypes.OBJECT},
    description=f"Uploads in scope, newest first, at most {PAGE_SIZE}; the filters are the uploads page's.",
)
@api_view(["GET", "POST"])
@parser_classes([MultiPartParser, FormParser])
def uploads(request: Request) -> Response:
    scope = scope_for(request.user)
    if request.method == "GET":
        wanted = UploadFilterForm(request.query_params, shop_codes=selectors.shop_codes_visible(scope=scope))
        if not wanted.is_valid():
            # A script that asks for a shop or a day it cannot have is told so, not given all.
            errors = {field: " ".join(e) for field, e in wanted.errors.items()}
            return Response({"detail": "Invalid filter.", "errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        found = list(selectors.upload_list(scope=scope, filters=wanted.filters())[:PAGE_SIZE])
        replaced_by = selectors.uploads_replaced_by([u.id for u in found])
        return Response([upload_body(request, u, replaced_by=replaced_by) for u in found])
    if not scope.upload_shop_codes:
        return _error("Your role cannot upload files.", status.HTTP_403_FORBIDDEN)
    data = UploadCreateSerializer(data=request.data)  # parses the body: the handler may refuse it
    refused = getattr(request._request, "upload_refused", "")
    if refused:
        return _error(refused, status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    data.is_valid(raise_exception=True)
    return _create(request, scope, data.validated_data)


def _create(request: Request, scope, data: dict) -> Response:
    shop = Shop.objects.filter(code=data["shop"], code__in=scope.upload_shop_codes).select_related("region").first()
    if shop is None:
        return Response({"shop": [f"No shop {data['shop']!r} that you may upload for."]}, status=400)
    replaces = selectors.upload_get(scope=scope, upload_id=data["replaces"]) if data.get("replaces") else None
    file = data["file"]
    try:
        upload = upload_create(
            scope=scope,
            user=request.user,
            shop=shop,
            file=file,
            name=file.name,
            replaces=replaces,
            on_duplicate=data["on_duplicate"],
            accept_implausible=data["accept_implausible"],
            on_overlap=data["on_overlap"],
        )
    except DuplicateUpload as exc:
        body = {"detail": exc.messages[0], "duplicate_of": str(exc.earlier.id)}
        return Response(body, status=status.HTTP_409_CONFLICT)
    except PermissionDenied as exc:
        return _error(str(exc), status.HTTP_403_FORBIDDEN)
    except ValidationError as exc:
        return _error(" ".join(exc.messages), status.HTTP_400_BAD_REQUEST)
    body = upload_body(request, upload)
    return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["status_url"]})


@extend_schema(responses={200: UploadStatusSerializer, 404: OpenApiTypes.OBJECT})
@api_view(["GET"])
def upload(request: Request, upload_id) -> Response:
    found = selectors.upload_get(scope=scope_for(request.user), upload_id=upload_id)
    return Response(upload_body(request, found))


@extend_schema(
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="Original rows + errors")},
    description="The rejected rows: the file's original rows with an `errors` column.",
)
@api_view(["GET"])
def upload_rejected(request: Request, upload_id) -> FileResponse:
    scope = scope_for(request.user)
    found = selectors.upload_get(scope=scope, upload_id=upload_id)
    response = rejected_response(upload=found, fmt="csv")
    detail = {"file": found.original_name, "shop": found.shop.code, "format": "csv"}
    action = AuditEvent.Action.API_REJECTED_DOWNLOAD
    audit_record(request=request, scope=scope, action=action, target=found.id, detail=detail)
    return response


@extend_schema(request=DecisionSerializer, responses={200: UploadStatusSerializer})
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def upload_decision(request: Request, upload_id) -> Response:
    return _upload_action(
        request,
        upload_id,
        DecisionSerializer,
        lambda scope, found, data: upload_decide(scope=scope, user=request.user, upload=found, choice=data["choice"]),
    )


@extend_schema(
    request=PlausibilitySerializer,
    responses={200: UploadStatusSerializer, **dict.fromkeys((403, 409), OpenApiTypes.OBJECT)},
    description="An upload held as unlike its shop's usual uploads (status implausible): confirm (it is processed "
    "again and loads; who confirmed is in its history) or cancel (nothing is loaded). 409 once it is not held.",
)
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def upload_plausibility(request: Request, upload_id) -> Response:
    return _upload_action(
        request,
        upload_id,
        PlausibilitySerializer,
        lambda scope, found, data: upload_plausibility_decide(
            scope=scope, upload=found, choice=data["choice"], by=request.user
        ),
    )


@extend_schema(
    request=OverlapDecisionSerializer,
    responses={200: UploadStatusSerializer, **dict.fromkeys((403, 409), OpenApiTypes.OBJECT)},
    description="The choice on an upload held as `overlap` (its lines loaded before from other uploads of the shop: "
    "see `overlap`); recorded in its history with who chose. 409 when it is not held any more.",
)
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def upload_overlap(request: Request, upload_id) -> Response:
    return _upload_action(
        request,
        upload_id,
        OverlapDecisionSerializer,
        lambda scope, found, data: upload_overlap_decide(
            scope=scope, upload=found, choice=data["choice"], by=request.user
        ),
    )


@extend_schema(
    request=SheetSerializer,
    responses={200: UploadStatusSerializer, **dict.fromkeys((400, 403, 409), OpenApiTypes.OBJECT)},
    description="Process a workbook again, reading the named sheet (one of the upload's `sheets`). 400 for a sheet "
    "the workbook does not have; 409 while the upload is not ended, or once it was replaced.",
)
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def upload_sheet(request: Request, upload_id) -> Response:
    return _upload_action(
        request,
        upload_id,
        SheetSerializer,
        lambda scope, found, data: upload_sheet_choose(
            scope=scope, user=request.user, upload=found, sheet=data["sheet"]
        ),
        bad_request=("no_such_sheet",),
    )


def _upload_action(request: Request, upload_id, serializer, act, *, bad_request: tuple[str, ...] = ()) -> Response:
    """An action on an upload in scope: its body validated, then `act(scope, upload, data)`;
    403 when the caller may not act, 409 when the upload's state forbids it (400 for the
    validation codes in `bad_request`)."""
    scope = scope_for(request.user)
    found = selectors.upload_get(scope=scope, upload_id=upload_id)
    data = serializer(data=request.data)
    data.is_valid(raise_exception=True)
    try:
        done = act(scope, found, data.validated_data)
    except PermissionDenied as exc:
        return _error(str(exc), status.HTTP_403_FORBIDDEN)
    except ValidationError as exc:
        code = status.HTTP_400_BAD_REQUEST if exc.code in bad_request else status.HTTP_409_CONFLICT
        return _error(" ".join(exc.messages), code)
    return Response(upload_body(request, done))
