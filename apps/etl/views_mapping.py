"""The mapping step: a shop manager matches a file's columns to the schema's fields."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.accounts.access import scope_for
from apps.etl.mappings import column_mapping_confirm, mapping_rows
from apps.etl.schemas import NoActiveSchema, schema_spec_active
from apps.uploads.selectors import upload_get


@login_required
@require_http_methods(["GET", "POST"])
def mapping_step(request: HttpRequest, upload_id) -> HttpResponse:
    scope = scope_for(request.user)
    upload = upload_get(scope=scope, upload_id=upload_id)
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("Only those who upload for this shop can map its files.")
    if not upload.report.get("needs_mapping"):
        return redirect("uploads:detail", upload_id=upload.id)
    try:
        spec = schema_spec_active()
    except NoActiveSchema as exc:  # none active, or one that cannot fill the fact table
        context = {"upload": upload, "rows": [], "columns": [], "errors": [str(exc)], "unavailable": True}
        return render(request, "etl/mapping.html", context, status=503)
    chosen, errors = None, []
    if request.method == "POST":
        chosen = {f.name: request.POST.get(f"field-{f.name}", "") for f in spec.fields}
        try:
            column_mapping_confirm(scope=scope, user=request.user, upload=upload, spec=spec, chosen=chosen)
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
    return render(request, "etl/mapping.html", context, status=400 if errors else 200)
