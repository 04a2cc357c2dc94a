"""The onboarding wizard's URL."""

from __future__ import annotations

from django.urls import path

from .views import HomeWizard

urlpatterns = [
    path("homes/new/", HomeWizard.as_view(), name="home_wizard"),
]
