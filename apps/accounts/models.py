from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    email = models.EmailField(blank=True, default="")

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

    def save(self, *args, **kwargs):
        # Django's own admin flags follow the product role so there is one source of truth.
        self.is_staff = self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)
