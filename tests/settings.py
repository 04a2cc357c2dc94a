"""Settings for the test suite: the real settings with test secrets and a fast password hasher.

DATABASE_URL and CELERY_BROKER_URL are honoured, so CI runs the same suite on PostgreSQL and Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "dGVzdC1vbmx5LWZpZWxkLWtleS0zMi1ieXRlcyEhISE=")
os.environ.setdefault("INTEGRATIONS_SANDBOX", "1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# Tasks run in-process unless a test starts a real worker (tests/integrations/test_sync_worker.py
# turns this off and uses CELERY_BROKER_URL: Redis in CI). A queued task with no worker would
# otherwise wait in Redis and the test would never see its effect.
CELERY_TASK_ALWAYS_EAGER = True

# seed_demo's year of readings per device and meter (readings/demo.py): off for the many tests
# that seed the demo; tests/readings/test_demo_readings.py turns it on.
DEMO_READINGS = False
