from django.urls import path, re_path

from apps.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_master, name="master"),
    path("lines/", views.report_lines, name="lines"),
    path("coverage/", views.report_coverage, name="coverage"),
    path("looker/", views.report_looker, name="looker"),
    path("export/<slug:dataset>.<slug:fmt>", views.report_export, name="export"),
    re_path(r"^(?P<country_code>[A-Za-z]{2})/$", views.report_country, name="country"),
]
