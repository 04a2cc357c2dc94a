"""Top-level URLs: sign-in, dashboard, members, the apps, admin, health check.

The layout rule: every top-level prefix (a URL's first path segment: `homes/`, `devices/` …) is
declared once, here. An app's urls.py holds one list of routes per prefix it serves under, named
after it and relative to it (`homes.urls.homes`, `onboarding.urls.homes` …); where several apps
serve under one prefix, that prefix's `path()` below mounts all their lists. So to find what serves
a URL, look up its first segment here; to add a route, add it to its app's list for that prefix.
tests/portal/test_url_layout.py checks the rule.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.module_loading import import_string

from . import views
from .forms import EmailAuthenticationForm

admin.site.site_header = "Gridfolio back office"
admin.site.site_title = "Gridfolio admin"
admin.site.index_title = "Records, organizations and sync state"


def routes(*names: str) -> tuple[Any, str | None, str | None]:
    """include() of the apps' route lists, by dotted name ("homes.urls.homes"): imported by name,
    like include("app.urls"), so that portal imports no app above it."""
    return include([route for name in names for route in import_string(name)])


urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("org/switch/", views.switch_organization, name="switch_organization"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.invite, name="invite_member"),
    path("members/<int:pk>/role/", views.change_role, name="change_role"),
    path("members/<int:pk>/remove/", views.remove_member, name="remove_member"),
    path("members/invitations/<int:pk>/revoke/", views.revoke_invitation, name="revoke_invitation"),
    path("invite/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("customers/", routes("homes.urls.customers")),
    path("homes/", routes("homes.urls.homes", "onboarding.urls.homes", "integrations.urls.homes")),
    path("meters/", routes("homes.urls.meters", "readings.urls.meters")),
    path(
        "devices/",
        routes("devices.urls.devices", "readings.urls.devices", "integrations.urls.devices"),
    ),
    path("uploads/", routes("readings.urls.uploads")),
    path("integrations/", routes("integrations.urls.integrations")),
    path("alerts/", routes("alerts.urls.alerts")),
    path("api/", routes("api.urls.api")),
    path("api-keys/", routes("api.urls.keys")),
    path("admin/", admin.site.urls),
]
