"""JWT issue/verify (HS256, fixed algorithm list so 'none' and RS/HS confusion are refused)."""

from __future__ import annotations

from datetime import datetime, timezone

import jwt
from django.conf import settings


class InvalidToken(Exception):
    pass


def token_issue(*, user) -> tuple[str, datetime]:
    now = datetime.now(timezone.utc)
    expires = now + settings.JWT_LIFETIME
    payload = {
        "user_id": user.pk,
        "username": user.username,
        "role": user.role,
        "ver": user.token_version,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(payload, settings.JWT_SIGNING_KEY, algorithm=settings.JWT_ALGORITHM)
    return token, expires


def token_decode(token: str) -> dict:
    try:
        return jwt.decode(
            token,
            settings.JWT_SIGNING_KEY,
            algorithms=[settings.JWT_ALGORITHM],
            options={"require": ["exp", "user_id", "ver"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("invalid token") from exc
