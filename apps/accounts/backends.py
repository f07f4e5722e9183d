"""The one authentication backend: Django's, behind the login throttle, so every way in
(the login page, the admin's login, POST /api/token/) counts attempts and honours lockouts."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from apps.accounts.throttle import (
    REFUSED,
    client_ip,
    lockout_message,
    login_attempt_count,
    login_failure_record,
    login_success_record,
)


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        ip = client_ip(request)
        # Counted before the (slow) password check, so parallel attempts are counted too.
        attempt = login_attempt_count(username=username, ip=ip)
        if attempt is None:
            if request is not None:
                setattr(request, REFUSED, lockout_message())
            # PermissionDenied stops authenticate() trying any other backend.
            raise PermissionDenied(lockout_message())
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username, ip=ip, attempt=attempt)
        else:
            login_success_record(username=username, ip=ip)
        return user
