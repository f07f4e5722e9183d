from django.contrib import admin

from apps.reports.models import LookerStudioReport


@admin.register(LookerStudioReport)
class LookerStudioReportAdmin(admin.ModelAdmin):
    list_display = ["__str__", "embed_url", "region_parameter", "shop_parameter"]
    list_select_related = ["region"]
