"""The onboarding wizard's URL (included first in devices/urls.py, so `homes/new/` is ours)."""

from __future__ import annotations

from django.urls import path

from .wizard import HomeWizard

urlpatterns = [
    path("homes/new/", HomeWizard.as_view(), name="home_wizard"),
]
