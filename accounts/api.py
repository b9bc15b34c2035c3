"""REST endpoints for accounts: signup, tokens (API keys), /me and its sessions and keys."""

from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import login_sessions, selectors, services, user_extras
from accounts.models import ApiKey, LoginSession, User
from accounts.profile import GENDER_CHOICES
from core.api import NotFound
from core.api_fields import StrictCharField
from core.parsers import JSONParser

READ_ONLY_ME_FIELDS = ("email", "role", "status", "email_verified", "email_verified_at", "id")


# The account API reads JSON bodies only: multipart and form parsers drop a part they cannot
# read and carried on with what was left (found by fuzzing PATCH /me/ with a malformed body).
JSON_ONLY = [JSONParser]


# --- serializers ---------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    detail = serializers.CharField(help_text="Human-readable message.")
    # Values are lists of messages, or the same shape per item for nested input (address).
    fields = serializers.DictField(help_text="Per-field messages, for validation errors.")  # type: ignore[assignment]  # DRF's metaclass takes declared fields out of the class


def _errors(*codes: int, **described: str) -> dict:
    text = {
        400: "Invalid input (code `invalid`, or a specific code such as `email_taken`).",
        401: "Not authenticated.",
        403: "Not allowed.",
        404: "Not found.",
        429: "Too many failed sign-in attempts (`locked_out`), or too many requests "
        "(`throttled`, with `Retry-After`).",
    }
    text.update({int(k.strip("_")): v for k, v in described.items()})
    wanted = sorted({*codes, *(int(k.strip("_")) for k in described)})
    return {code: OpenApiResponse(ErrorSerializer, description=text[code]) for code in wanted}


class AddressSerializer(serializers.Serializer):
    line1 = serializers.CharField(required=False, allow_blank=True, max_length=200)
    line2 = serializers.CharField(required=False, allow_blank=True, max_length=200)
    city = serializers.CharField(required=False, allow_blank=True, max_length=200)
    region = serializers.CharField(required=False, allow_blank=True, max_length=200)
    postal_code = serializers.CharField(required=False, allow_blank=True, max_length=200)
    country = serializers.CharField(
        required=False, allow_blank=True, max_length=2, help_text="ISO 3166-1 alpha-2, e.g. GB."
    )


class UserSerializer(serializers.ModelSerializer):
    billing_address = AddressSerializer(allow_null=True)
    name = serializers.CharField(read_only=True)
    # Not `format: uri`: it is empty until the user sets one.
    avatar_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    membership = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "email_verified",
            "email_verified_at",
            "name",
            "first_name",
            "last_name",
            "display_name",
            "avatar_url",
            "phone",
            "date_of_birth",
            "gender",
            "timezone",
            "language",
            "billing_address",
            "tax_id",
            "role",
            "status",
            "created_at",
            "last_login",
            "membership",
        ]
        read_only_fields = fields

    def get_membership(self, user) -> dict:
        return user_extras.named("membership").api_body(user)


# Documented by the serializer the membership app registered (accounts.user_extras).
extend_schema_field(user_extras.named("membership").api_serializer)(UserSerializer.get_membership)


class ProfileUpdateSerializer(serializers.Serializer):
    """PATCH /me: only profile fields. Role, status, e-mail and verification are refused."""

    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    avatar_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    phone = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=GENDER_CHOICES, required=False, allow_blank=True)
    timezone = serializers.CharField(required=False, max_length=64)
    language = serializers.CharField(required=False, max_length=16)
    billing_address = AddressSerializer(required=False, allow_null=True)
    tax_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=32)

    def validate(self, attrs):
        errors = {
            name: ["This field cannot be changed."]
            for name in self.initial_data
            if name in READ_ONLY_ME_FIELDS
        }
        unknown = set(self.initial_data) - set(self.fields) - set(errors)
        errors.update({name: ["Unknown field."] for name in unknown})
        if errors:
            raise serializers.ValidationError(errors, code="read_only")
        return attrs


class SignupSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
    last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="A label for the key, e.g. the client's name.",
    )


class NewApiKeySerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown only this once.")

    class Meta:
        model = ApiKey
        fields = ["id", "key", "prefix", "name", "scopes", "created_at", "expires_at"]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "prefix", "name", "scopes", "created_at", "last_used_at", "expires_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = StrictCharField(required=False, allow_blank=True, max_length=100)


class LoginSessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = LoginSession
        fields = [
            "id",
            "ip_address",
            "user_agent",
            "created_at",
            "last_seen_at",
            "expires_at",
            "current",
        ]
        read_only_fields = fields

    def get_current(self, obj) -> bool:
        request = self.context.get("request")
        session = getattr(request, "session", None)
        return bool(session is not None and session.session_key == obj.session_key)


class DeleteMeSerializer(serializers.Serializer):
    password = serializers.CharField(
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="The account's current password, to confirm.",
    )


def _new_key_body(key: ApiKey, raw: str) -> dict:
    data = NewApiKeySerializer(key).data
    data["key"] = raw
    return data


# --- views -----------------------------------------------------------------------------------


class SignupView(APIView):
    parser_classes = JSON_ONLY
    # No authentication classes: no session, hence no CSRF check for JSON clients.
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        request=SignupSerializer,
        responses={201: UserSerializer, **_errors(400)},
        summary="Create an account (sends an e-mail confirmation link)",
    )
    def post(self, request):
        payload = SignupSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = services.register_user(request=request._request, **payload.validated_data)
        transaction.on_commit(
            lambda: services.send_signup_confirmation(request=request._request, user=user)
        )
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    parser_classes = JSON_ONLY
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["auth"],
        request=TokenRequestSerializer,
        responses={
            201: NewApiKeySerializer,
            **_errors(
                400,
                401,
                429,
                _403="Account suspended or closed "
                "(`account_disabled`) or e-mail not confirmed "
                "(`email_not_verified`).",
            ),
        },
        summary="Exchange e-mail and password for a new API key",
    )
    def post(self, request):
        payload = TokenRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key, raw = services.issue_api_token(
            request=request._request,  # the Django request: django-axes tracks it
            email=payload.validated_data["email"],
            password=payload.validated_data["password"],
            name=payload.validated_data.get("name", ""),
        )
        return Response(_new_key_body(key, raw), status=status.HTTP_201_CREATED)


# Reading one's own status is open to any key; changing anything through a customer's key
# needs a plan with api_access (accounts.entitlements).
_NEEDS_API_ACCESS = (
    "A customer's API key whose plan lacks `api_access` (`entitlement_required`, naming the "
    "plans that include it): nothing changed."
)


class MeView(APIView):
    parser_classes = JSON_ONLY
    # A client whose plan lacks api_access can still learn why (its membership is here).
    allowed_without_api_access = True

    @extend_schema(tags=["me"], responses={200: UserSerializer, **_errors(401)})
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(
        tags=["me"],
        request=ProfileUpdateSerializer,
        responses={200: UserSerializer, **_errors(400, 401, _403=_NEEDS_API_ACCESS)},
        summary="Change profile fields (role, status, e-mail are not writable)",
    )
    def patch(self, request):
        payload = ProfileUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if data.get("billing_address") is not None:
            data["billing_address"] = dict(data["billing_address"])
        user = services.update_profile(user=request.user, data=data, actor=request.user)
        return Response(UserSerializer(user).data)

    @extend_schema(
        tags=["me"],
        request=DeleteMeSerializer,
        responses={
            204: None,
            **_errors(
                400,
                401,
                _403=_NEEDS_API_ACCESS,
                _502="The payment provider could not cancel a subscription "
                "(`payment_provider_error`): nothing was deleted.",
            ),
        },
        summary="Delete my account: cancel subscriptions and void open invoices, "
        "anonymise personal data, sign out everywhere",
    )
    def delete(self, request):
        payload = DeleteMeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.check_password_or_raise(
            user=request.user, password=payload.validated_data["password"]
        )
        services.delete_account(user=request.user, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportView(APIView):
    @extend_schema(
        tags=["me"],
        responses={
            200: inline_serializer(
                "UserExport",
                {
                    "format": serializers.CharField(),
                    "version": serializers.IntegerField(),
                    "exported_at": serializers.DateTimeField(),
                    "user_id": serializers.IntegerField(),
                    "profile": serializers.DictField(),
                },
            ),
            **_errors(401),
        },
        summary="All my data as one JSON document (one key per section)",
        description="Streamed: the document is written as it is read, so a long history "
        "starts downloading at once.",
    )
    def get(self, request):
        return StreamingHttpResponse(
            services.export_user_data(user=request.user), content_type="application/json"
        )


class MySessionsView(generics.ListAPIView):
    serializer_class = LoginSessionSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.active_sessions_for(user=self.request.user)

    @extend_schema(tags=["me"], responses={200: LoginSessionSerializer(many=True), **_errors(401)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MySessionView(APIView):
    @extend_schema(
        tags=["me"],
        responses={204: None, **_errors(401, 404)},
        summary="Sign out one of my sessions",
    )
    def delete(self, request, session_id: int):
        if not selectors.active_sessions_for(user=request.user).filter(pk=session_id).exists():
            raise_not_found()
        login_sessions.revoke_login_session(
            user=request.user, session_id=session_id, actor=request.user
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyApiKeysView(generics.ListAPIView):
    parser_classes = JSON_ONLY
    serializer_class = ApiKeySerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.api_keys_for(user=self.request.user)

    @extend_schema(tags=["me"], responses={200: ApiKeySerializer(many=True), **_errors(401)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["me"],
        request=ApiKeyCreateSerializer,
        responses={201: NewApiKeySerializer, **_errors(400, 401)},
        summary="Create an API key (the secret is in this response only)",
    )
    def post(self, request):
        payload = ApiKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        key, raw = services.create_api_key(
            user=request.user, name=payload.validated_data.get("name", "")
        )
        return Response(_new_key_body(key, raw), status=status.HTTP_201_CREATED)


class MyApiKeyView(APIView):
    @extend_schema(
        tags=["me"], responses={204: None, **_errors(401, 404)}, summary="Revoke one of my API keys"
    )
    def delete(self, request, key_id: int):
        if not selectors.api_keys_for(user=request.user).filter(pk=key_id).exists():
            raise_not_found()
        services.revoke_api_key(user=request.user, key_id=key_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def raise_not_found():
    # Another user's row and a missing row answer the same: 404.
    raise NotFound()
