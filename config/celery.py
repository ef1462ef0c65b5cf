"""Celery application. With no broker configured, a file-system broker needs no server."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("maskflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
