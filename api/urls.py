"""Routes under /api/ (portal/urls.py mounts `api.urls.api`) and the API keys page under
/api-keys/ (`api.urls.keys`)."""

from __future__ import annotations

from django.urls import path

from . import views
from .main import api as api_v1

api = [
    path("v1/", api_v1.urls),
    path("v1/docs", views.reference, name="api_reference"),
]
keys = [
    path("", views.keys, name="api_keys"),
    path("<int:pk>/revoke/", views.revoke_key, name="revoke_api_key"),
]
