from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from apps.etl.contract import fact_contract_problems
from apps.etl.models import CountryAlias, FxRate, SalesSchema, SchemaField, ShopCountryMapping
from apps.etl.schemas import schema_version_archive, schema_version_undo

PREVIEW_UPLOADS = 10


class SchemaFieldFormSet(BaseInlineFormSet):
    """The fields as the admin left them must still fill the fact table when the schema is
    (or becomes) the active one; a draft may be incomplete, and is told so on save."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        self.contract_problems = fact_contract_problems(
            (form.cleaned_data["name"], form.cleaned_data["data_type"], form.cleaned_data.get("required", False))
            for form in self.forms
            if form.cleaned_data.get("name") and not self._should_delete_form(form)
        )
        if self.contract_problems and self.instance.is_active:
            raise ValidationError(["The active schema must keep what the fact table needs.", *self.contract_problems])


class SchemaFieldInline(admin.TabularInline):
    model = SchemaField
    formset = SchemaFieldFormSet
    extra = 0
    fields = ["position", "name", "data_type", "required", "aliases", "allowed_values", "min_value", "max_value"]
    fields += ["pattern"]


@admin.register(SalesSchema)
class SalesSchemaAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "is_active", "max_bad_row_pct", "created_at"]
    readonly_fields = ["version"]
    inlines = [SchemaFieldInline]
    actions = ["preview_recent_uploads"]

    def save_model(self, request: HttpRequest, obj: SalesSchema, form, change: bool) -> None:
        # Uploads name the version they ran with, so an edit of the active schema is a new one.
        # Kept on the request: the ModelAdmin instance is shared by every request.
        request.schema_archived = schema_version_archive(schema=obj) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        for problem in (p for fs in formsets for p in getattr(fs, "contract_problems", [])):
            messages.warning(request, f"This version cannot be activated yet: {problem}")
        archived = getattr(request, "schema_archived", None)
        if archived is None:
            return
        if not form.has_changed() and not any(fs.has_changed() for fs in formsets):
            schema_version_undo(archived=archived, schema=form.instance)
        else:
            messages.info(request, f"Saved as version {form.instance.version}; version {archived.version} is kept.")

    @admin.action(description=f"Preview: rows of the last {PREVIEW_UPLOADS} uploads this schema would reject")
    def preview_recent_uploads(self, request: HttpRequest, queryset: QuerySet[SalesSchema]) -> HttpResponseRedirect:
        # The preview runs uploads' files, so it lives with the uploads (etl imports nothing
        # of them): its admin page says what it found and comes back to this list.
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:uploads_schema_preview')}?schemas={ids}&last={PREVIEW_UPLOADS}")


@admin.register(CountryAlias)
class CountryAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "country_code"]
    search_fields = ["alias", "country_code"]


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "quote_currency", "month", "rate"]
    list_filter = ["currency", "quote_currency"]


@admin.register(ShopCountryMapping)
class ShopCountryMappingAdmin(admin.ModelAdmin):
    """Country values a shop mapped for its own files from an upload's page."""

    list_display = ["shop", "value", "country_code", "created_by", "created_at"]
    list_filter = ["shop", "country_code"]
    search_fields = ["value"]
