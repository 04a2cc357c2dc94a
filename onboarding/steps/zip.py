"""Step 1: the home's zip code, and the utilities WattShift says serve it; what the zip tells of
the place (city, state, time zone) for the later steps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from homes.directory import DirectoryUnavailable, UtilityLookup
from homes.models import zip_code_validator
from homes.services import zip_facts
from portal.models import TIMEZONE_CHOICES, Organization

# The zip table has a few bad zones (99634 says "Napakiak"); Home.timezone only takes real ones.
KNOWN_TIMEZONES = frozenset(name for name, _ in TIMEZONE_CHOICES)


class ZipCodeField(forms.CharField):
    """A US zip code; `953131234` and `95313 1234` are accepted as `95313-1234`."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""  # the empty value is "" (the stubs allow None)
        digits = re.sub(r"[\s-]", "", text)
        if len(digits) == 9 and digits.isdigit():
            return f"{digits[:5]}-{digits[5:]}"
        return text


class ZipForm(forms.Form):
    """The home's zip code, and the utilities WattShift says serve it."""

    zip_code = ZipCodeField(
        label="Zip code",
        max_length=10,
        validators=[zip_code_validator],
        help_text="5 digits, optionally followed by -NNNN.",
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "autofocus": True}),
    )

    def __init__(self, *args: Any, lookup: Callable[[str], UtilityLookup], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookup = lookup

    def clean_zip_code(self) -> str:
        zip_code = self.cleaned_data["zip_code"]
        try:
            result = self.lookup(zip_code)
        except DirectoryUnavailable as exc:
            raise ValidationError(
                f"{exc} No earlier answer for {zip_code[:5]} is saved, so its utilities are unknown."
            ) from exc
        if not result.utilities:
            raise ValidationError(
                f"WattShift knows no utility serving {zip_code[:5]}. Check the zip code."
            )
        self.cleaned_data["lookup"] = result
        return zip_code


def zip_timezone(zip_code: str) -> str:
    """The zip's IANA zone, or "" when the zip table has none (or a bad one)."""
    timezone = zip_facts(zip_code).get("timezone") or ""
    return timezone if timezone in KNOWN_TIMEZONES else ""


def zip_prefill(zip_code: str) -> dict[str, str]:
    """The city and state the home step starts with."""
    facts = zip_facts(zip_code)
    return {"city": (facts.get("city") or "").title(), "state": facts.get("state") or ""}


def describe_place(
    zip_code: str, lookup: UtilityLookup, organization: Organization
) -> dict[str, Any]:
    """What the zip code tells about the home: place, time zone, and its utilities."""
    return {
        "zip_code": zip_code,
        **zip_prefill(zip_code),
        "timezone": zip_timezone(zip_code),
        "fallback_timezone": organization.timezone,
        "lookup": lookup,
    }
