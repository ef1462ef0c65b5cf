from django.contrib.auth.hashers import BCryptSHA256PasswordHasher


class BCrypt12PasswordHasher(BCryptSHA256PasswordHasher):
    """bcrypt with cost 12 (2^12 rounds); SHA-256 pre-hash lifts bcrypt's 72-byte limit."""

    rounds = 12
