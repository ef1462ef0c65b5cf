"""Signals the bottom layer sends for the apps above it to act on (core imports no other app)."""

from django.dispatch import Signal

# Sent with `request` when a request ends in an unhandled error (HTTP 500); the audit app
# records it.
server_error = Signal()
