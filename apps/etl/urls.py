from django.urls import path

from apps.etl import views_mapping

app_name = "etl"
urlpatterns = [
    path("uploads/<uuid:upload_id>/mapping/", views_mapping.mapping_step, name="mapping"),
]
