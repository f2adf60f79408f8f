"""A Django project that does one thing: receive OpsKnight webhooks (hooks/views.py).
No database and no sessions; the receiver keeps its own state (opsknight_receiver.py)."""

import os
import secrets

# The receiver signs nothing with it; Django only needs one.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50)
DEBUG = os.environ.get("DJANGO_DEBUG") == "true"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = ["rest_framework", "hooks"]
MIDDLEWARE = ["django.middleware.security.SecurityMiddleware", "django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "receiver_site.urls"
WSGI_APPLICATION = "receiver_site.wsgi.application"
DATABASES = {}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # OpsKnight's bodies are a few KB
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"opsknight_receiver": {"handlers": ["console"], "level": "INFO"}},
}
