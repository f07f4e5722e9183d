from django.urls import path

from apps.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_master, name="master"),
    path("<str:country_code>/", views.report_country, name="country"),
]
