from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from apps.api import token, views

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # POST username + password -> the user's token (a user creates their own this way).
    path("token/", token.token, name="token"),
    path("uploads/", views.uploads, name="uploads"),
    path("uploads/<uuid:upload_id>/", views.upload, name="upload"),
    path("uploads/<uuid:upload_id>/rejected.csv", views.upload_rejected, name="upload-rejected"),
    path("uploads/<uuid:upload_id>/decision", views.upload_decision, name="upload-decision"),
    path("uploads/<uuid:upload_id>/plausibility", views.upload_plausibility, name="upload-plausibility"),
    path("uploads/<uuid:upload_id>/sheet", views.upload_sheet, name="upload-sheet"),
    path("uploads/<uuid:upload_id>/overlap", views.upload_overlap, name="upload-overlap"),
]
