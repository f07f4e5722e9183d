from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from apps.accounts.forms import LoginForm
from salesapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("uploads/", include("apps.uploads.urls")),
    path("reports/", include("apps.reports.urls")),
    path("api/", include("apps.api.urls")),
    # The mapping step's first address (in emails sent before it moved under /uploads/).
    path(
        "etl/uploads/<uuid:upload_id>/mapping/",
        RedirectView.as_view(pattern_name="uploads:mapping", permanent=True),
        name="mapping-moved",
    ),
    path("admin/", admin.site.urls),
]
