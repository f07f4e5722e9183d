"""Login forms that say so when the throttle refuses a sign-in (apps/accounts/throttle.py)."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from apps.accounts.throttle import login_refused


class ThrottledLoginMixin:
    throttled = ""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            # The backend counted this attempt and refused it without checking the password.
            self.throttled = login_refused(self.request)
            if self.throttled:
                raise ValidationError(self.throttled, code="throttled") from None
            raise


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
