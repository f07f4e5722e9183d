from django.urls import path

from apps.uploads import views

app_name = "uploads"
urlpatterns = [
    path("", views.upload_index, name="index"),
    path("<uuid:upload_id>/", views.upload_detail, name="detail"),
    path("<uuid:upload_id>/status.json", views.upload_status, name="status"),
]
