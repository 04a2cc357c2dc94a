"""Top-level URLs: sign-in, dashboard, members, the apps, admin, health check."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views
from .forms import EmailAuthenticationForm

admin.site.site_header = "Gridfolio back office"
admin.site.site_title = "Gridfolio admin"
admin.site.index_title = "Records, organizations and sync state"

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
    path("", include("homes.urls")),
    path("", include("devices.urls")),
    path("", include("readings.urls")),
    path("", include("integrations.urls")),
    path("admin/", admin.site.urls),
]
