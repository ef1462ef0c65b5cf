from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions

from apps.accounts.tokens import InvalidToken, token_decode


class JWTAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            claims = token_decode(header[1].decode("ascii", errors="replace"))
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(f"Authentication failed: {exc}.") from None
        user = get_user_model().objects.filter(pk=claims["user_id"], is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed(
                "Authentication failed: unknown or inactive user."
            )
        if claims["ver"] != user.token_version:
            # Issued before a password or role change, or before "sign out everywhere".
            raise exceptions.AuthenticationFailed("Authentication failed: token revoked.")
        return user, claims

    def authenticate_header(self, request):
        # A WWW-Authenticate header makes DRF answer 401 (not 403) to anonymous requests.
        return f'{self.keyword} realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """Browser session for the HTMX pages calling the API; CSRF enforced as usual."""
