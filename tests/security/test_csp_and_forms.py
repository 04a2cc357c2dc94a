"""A strict Content-Security-Policy with nothing inline, a CSRF token in every form, and secure
cookies under the production settings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import DeviceFactory, HomeFactory, MeterFactory

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def test_it_has_templates_to_check():
    assert len(TEMPLATES) > 30


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_it_puts_no_inline_script_style_or_handler_in_templates(path):
    text = path.read_text()
    for match in re.finditer(r"<script\b([^>]*)>", text):
        attributes = match.group(1)
        assert "src=" in attributes or 'type="application/json"' in attributes, (
            f"inline <script> in {path.name}"
        )
    assert not re.search(r"<style\b", text), f"<style> element in {path.name}"
    assert not re.search(r"\sstyle\s*=", text), f"style= attribute in {path.name}"
    assert not re.search(r"\son[a-z]+\s*=\s*[\"']", text), f"inline event handler in {path.name}"
    assert "javascript:" not in text, f"javascript: URL in {path.name}"


@pytest.mark.django_db
def test_it_sends_a_strict_csp_header(owner_client):
    policy = owner_client.get(reverse("dashboard"))["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert "unsafe" not in policy and "http" not in policy
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_it_puts_a_csrf_token_in_every_post_form(org, owner_client):
    home = HomeFactory(organization=org)
    device = DeviceFactory(organization=org, home=home)
    meter = MeterFactory(organization=org, home=home)
    pages = [
        reverse("dashboard"),
        reverse("members"),
        reverse("home_list"),
        home.get_absolute_url(),
        reverse("home_edit", args=[home.pk]),
        reverse("home_delete", args=[home.pk]),
        reverse("home_create"),
        device.get_absolute_url(),
        reverse("device_edit", args=[device.pk]),
        reverse("device_create_kind", args=["solar"]),
        meter.get_absolute_url(),
        reverse("meter_create"),
        reverse("customer_create"),
        reverse("integrations"),
        reverse("connection_edit", args=["wattcarbon"]),
        reverse("webhook_events"),
        reverse("device_import"),
        reverse("meter_import"),
        reverse("home_wizard"),
        reverse("password_change"),
        reverse("api_keys"),
    ]
    checked = 0
    for url in pages:
        html = owner_client.get(url, follow=True).content.decode()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I):
            if re.search(r'method\s*=\s*"post"', form, flags=re.I):
                checked += 1
                assert "csrfmiddlewaretoken" in form, (url, form[:200])
    assert checked > 20


def test_it_uses_secure_cookies_and_session_expiry_under_production_settings():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS > 0, 0 < s.SESSION_COOKIE_AGE <= 86400, s.DEBUG)"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "x" * 64,
        "FIELD_ENCRYPTION_KEY": "k" * 44,
        "ALLOWED_HOSTS": "portal.example.com",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["True", "True", "True", "True", "True", "True", "False"], (
        out.stderr
    )
