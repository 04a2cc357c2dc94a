"""Organization API keys: what `/api/v1/` authenticates (api/auth.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.tenancy import OrgOwned


class Scope(models.TextChoices):
    """What a key may do; a key holds any set of them."""

    READ = "read", "Read: every record, link, reading, upload and event"
    WRITE = "write", "Write: create, change and delete customers, homes, meters and devices"
    READINGS = "readings", "Readings: upload interval data, confirm or discard uploads"
    INTEGRATIONS = "integrations", "Integrations: “sync now” on upstream links"


class ApiKey(OrgOwned):
    """A secret an organization's own systems send as `Authorization: Bearer` (only its hash is kept)."""

    name = models.CharField(max_length=100, help_text="What uses it: “CRM sync”, “monitoring”.")
    prefix = models.CharField(
        max_length=16, unique=True, help_text="The key's visible start, to tell keys apart."
    )
    secret_hash = models.CharField(max_length=64, help_text="SHA-256 of the whole key.")
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
