from django.contrib import admin

from apps.etl.models import CountryAlias, FxRate, SalesSchema, SchemaField


class SchemaFieldInline(admin.TabularInline):
    model = SchemaField
    extra = 0


@admin.register(SalesSchema)
class SalesSchemaAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "is_active", "max_bad_row_pct", "created_at"]
    inlines = [SchemaFieldInline]


@admin.register(CountryAlias)
class CountryAliasAdmin(admin.ModelAdmin):
    list_display = ["alias", "country_code"]
    search_fields = ["alias", "country_code"]


@admin.register(FxRate)
class FxRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "quote_currency", "month", "rate"]
    list_filter = ["currency", "quote_currency"]
