"""Login forms that say so when the throttle refuses a sign-in (apps/accounts/throttle.py)."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from apps.accounts.throttle import client_ip, lockout_message, login_locked


class ThrottledLoginMixin:
    throttled = ""

    def clean(self):
        username = self.cleaned_data.get("username")
        if username and login_locked(username=username, ip=client_ip(self.request)):
            self.throttled = lockout_message()
            raise ValidationError(self.throttled, code="throttled")
        return super().clean()


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
