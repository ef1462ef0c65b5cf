from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle
from rest_framework.throttling import UserRateThrottle as _UserRateThrottle


class UserRateThrottle(_UserRateThrottle):
    """Per signed-in user; anonymous requests fall to the per-IP limit."""

    scope = "user"

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
        return None


class IPRateThrottle(AnonRateThrottle):
    """Per client address, whoever is signed in."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginRateThrottle(SimpleRateThrottle):
    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
