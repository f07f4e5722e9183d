"""POST /api/token/: username + password -> the user's token (a user creates their own this
way), through the throttled backend like every sign-in; a refusal says it was the throttle."""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from apps.accounts.throttle import login_refused


@extend_schema_serializer(component_name="AuthToken")  # the schema's name before, for clients
class ThrottledAuthTokenSerializer(AuthTokenSerializer):
    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except serializers.ValidationError:
            # The backend counted this attempt and refused it without checking the password.
            refused = login_refused(self.context.get("request"))
            if refused:
                raise serializers.ValidationError(refused, code="throttled") from None
            raise


class TokenView(ObtainAuthToken):
    serializer_class = ThrottledAuthTokenSerializer


token = TokenView.as_view()
