from django.urls import path

from apps.uploads import downloads, views

app_name = "uploads"
urlpatterns = [
    path("", views.upload_index, name="index"),
    path("<uuid:upload_id>/", views.upload_detail, name="detail"),
    path("<uuid:upload_id>/status.json", views.upload_status, name="status"),
    path("<uuid:upload_id>/decision", views.upload_decision, name="decision"),
    path("<uuid:upload_id>/plausibility", views.upload_plausibility, name="plausibility"),
    path("<uuid:upload_id>/sheet", views.upload_sheet, name="sheet"),
    path("<uuid:upload_id>/overlap", views.upload_overlap, name="overlap"),
    path("<uuid:upload_id>/dates", views.upload_dates, name="dates"),
    path("<uuid:upload_id>/mapping/", views.upload_mapping, name="mapping"),
    path("<uuid:upload_id>/countries", views.upload_countries, name="countries"),
    path("alias-requests/<int:request_id>/decision", views.alias_request_decision, name="alias_request_decision"),
    path("<uuid:upload_id>/raw", downloads.upload_raw, name="raw"),
    path("<uuid:upload_id>/rejected.<str:fmt>", downloads.upload_rejected, name="rejected"),
]
