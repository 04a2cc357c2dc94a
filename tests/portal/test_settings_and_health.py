from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


def _run(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return _python(env_overrides, "manage.py", *args)


def _python(env_overrides: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`python ARGS` in the project with the given environment ("-c CODE" when one argument)."""
    if len(args) == 1 and not args[0].endswith(".py"):
        args = ("-c", args[0])
    # The suite's own settings (tests/settings.py) put test values in os.environ: leave them out.
    ours = {
        "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests' Playwright fixture
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEY",
        "DEBUG",
        "DJANGO_SETTINGS_MODULE",
        "ALLOWED_HOSTS",
        "INTEGRATIONS_SANDBOX",
    }
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ours and not k.endswith("_SECURE") and not k.startswith("SECURE_")
    }
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "SECRET_KEY": "x" * 60 + "-production-like-secret-key-with-enough-entropy-1234567890",
    "FIELD_ENCRYPTION_KEY": "cHJvZHVjdGlvbi1saWtlLWZpZWxkLWtleS0zMmJ5dGU=",
    "ALLOWED_HOSTS": "portal.example.com",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_it_refuses_to_serve_without_a_secret_and_names_it(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    deploy = _run(env, "check", "--deploy")
    assert deploy.returncode != 0
    assert f"{missing} is not set" in deploy.stderr
    served = _python(env, "import portal.wsgi")  # what gunicorn does first
    assert served.returncode != 0
    assert f"ImproperlyConfigured: {missing} is not set" in served.stderr


def test_it_makes_migrations_without_secrets():
    # Commands that need no secret run anywhere (CI and hooks check migrations without them).
    result = _run({}, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_passes_the_deploy_check_under_production_settings():
    result = _run(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_starts_in_debug_without_secrets():
    assert _run({"DEBUG": "1"}, "check").returncode == 0


@pytest.mark.django_db
def test_it_reports_health_when_the_database_answers(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.mark.django_db
def test_it_names_the_broker_when_it_does_not_answer(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_it_names_the_database_when_it_does_not_answer(client, settings, monkeypatch):
    settings.CELERY_BROKER_URL = ""

    from django.db import OperationalError

    def broken_cursor(*args, **kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(type(connection._connections["default"]), "cursor", broken_cursor)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")


@pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL"), reason="needs the broker of CI (Redis)"
)
@pytest.mark.django_db
def test_it_reports_the_real_broker_healthy(client):
    response = client.get(reverse("healthz"))
    assert response.json()["checks"]["broker"] == "ok"
