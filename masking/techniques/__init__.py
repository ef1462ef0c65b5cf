"""Masking techniques: a registry of vectorised column maskers."""
