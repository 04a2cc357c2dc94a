"""Date and time inputs in the portal's one format (README, "Time"): `2026-12-07`, `2026-12-07
15:00`, whatever the browser's locale. A browser's own date picker shows its locale's format
(12/07/2026 and a 12-hour clock in en-US), so these are text inputs that say and check the format;
Django's default input formats read exactly these."""

from __future__ import annotations

from typing import Any

from django import forms

DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {
            "placeholder": "YYYY-MM-DD",
            "pattern": DATE_PATTERN,
            "inputmode": "numeric",
            "maxlength": "10",
            "autocomplete": "off",
        }
        super().__init__(attrs={**defaults, **(attrs or {})}, format="%Y-%m-%d")


class IsoDateTimeInput(forms.DateTimeInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        defaults = {
            "placeholder": "YYYY-MM-DD HH:MM",
            "pattern": DATE_PATTERN + r"[ T]\d{2}:\d{2}",
            "maxlength": "16",
            "autocomplete": "off",
        }
        super().__init__(attrs={**defaults, **(attrs or {})}, format="%Y-%m-%d %H:%M")
