"""Write operations on devices."""

from __future__ import annotations

from portal.records import delete_record, save_record

from .models import Device


def save_device(device: Device) -> Device:
    """Validate (kind fields included) and save a device, announcing the change."""
    return save_record(device)


def delete_device(device: Device) -> None:
    delete_record(device)
