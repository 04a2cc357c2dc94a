"""The onboarding wizard's route under `homes/` (mounted there by portal/urls.py): /homes/new/."""

from __future__ import annotations

from django.urls import path

from .views import HomeWizard

homes = [
    path("new/", HomeWizard.as_view(), name="home_wizard"),
]
