from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    email = models.EmailField(blank=True, default="")
    # In every JWT and session hash: raising it signs the user out everywhere. It goes up with a
    # password change, a role change, a deactivation and an admin's "sign out everywhere".
    token_version = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "users"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "user"]), name="users_role_valid"
            )
        ]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read from __dict__: a deferred field would load itself (and build another User).
        self._loaded_access = (self.__dict__.get("role"), self.__dict__.get("is_active"))

    def set_password(self, raw_password):
        super().set_password(raw_password)
        self.token_version += 1

    def save(self, *args, **kwargs):
        # Django's own admin flags follow the product role so there is one source of truth.
        self.is_staff = self.is_superuser = self.role == Role.ADMIN
        # Whatever path changed the role or the active flag (service, admin, shell), tokens
        # issued under the old ones stop working.
        loaded = self._loaded_access
        if self.pk and None not in loaded and (self.role, self.is_active) != loaded:
            self.token_version += 1
            fields = kwargs.get("update_fields")
            if fields is not None:
                kwargs["update_fields"] = {*fields, "token_version"}
        super().save(*args, **kwargs)
        self._loaded_access = (self.role, self.is_active)

    def _get_session_auth_hash(self, secret=None):
        # Django signs sessions with the password hash; the token version joins it so that
        # signing out everywhere ends page sessions too.
        key_salt = "apps.accounts.models.User.session_auth_hash"
        value = f"{self.password}:{self.token_version}"
        return salted_hmac(key_salt, value, secret=secret, algorithm="sha256").hexdigest()
