from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from apps.accounts.lockout import (
    LOCKED_MESSAGE,
    lockout_active,
    lockout_clear,
    lockout_register_failure,
)
from apps.accounts.tokens import token_issue
from apps.core.envelope import fail, ok
from apps.core.throttles import LoginRateThrottle


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    role = serializers.CharField()
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class LoginAPI(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=LoginInput,
        responses=inline_serializer(
            "LoginOutput",
            {
                "token": serializers.CharField(),
                "expires_at": serializers.DateTimeField(),
                "user": UserOutput(),
            },
        ),
    )
    def post(self, request):
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        if lockout_active(username):
            return fail(429, LOCKED_MESSAGE, code="LOCKED_OUT")
        user = authenticate(request, username=username, password=data.validated_data["password"])
        if user is None:
            lockout_register_failure(username, request)
            return fail(401, "Invalid username or password.", code="INVALID_CREDENTIALS")
        lockout_clear(username)
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.send(sender=user.__class__, request=request, user=user)
        token, expires = token_issue(user=user)
        return ok(
            {
                "token": token,
                "token_type": "Bearer",
                "expires_at": expires,
                "user": UserOutput(user).data,
            },
            "Login successful",
        )


class MeAPI(APIView):
    @extend_schema(responses=UserOutput)
    def get(self, request):
        return ok(UserOutput(request.user).data)
