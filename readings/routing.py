"""Which device or meter a file is for: a device's custom id or a meter's number, named in the
file name (SP-0042.csv, 2024_SP-0042.csv.gz) or in a customId column (peeked at in the first
64 KB, gzip too)."""

from __future__ import annotations

import csv
import re
import zlib
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db.models.functions import Lower

from devices.models import Device
from homes.models import Meter
from portal.models import Organization

_PEEK_BYTES = 64 * 1024


_FILE_SUFFIXES = (".csv.gz", ".txt.gz", ".csv", ".txt", ".gz")


NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9]")


def owner_label(owner: Device | Meter) -> str:
    return f"{owner.name} ({owner.custom_id})" if isinstance(owner, Device) else str(owner)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A file that was not checked at all: it names no device or meter of the organization."""

    filename: str
    message: str


def file_stem(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = name.lower()
    for suffix in _FILE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _name_candidates(stem: str) -> set[str]:
    """Every piece of the file name that starts and ends at a boundary (the ends of the name or
    a character that is not a letter or digit): "2024_SP-00012_hourly" -> "sp-00012", ..."""
    stem = stem[:200]
    cuts = [m.start() for m in NOT_ID_CHAR.finditer(stem)][:40]
    starts = {0, *(cut + 1 for cut in cuts)}
    ends = {len(stem), *cuts}
    return {
        stem[start:end].lower()
        for start in starts
        for end in ends
        if 0 < end - start <= 100 and NOT_ID_CHAR.sub("", stem[start:end])
    }


def _known_ids(organization: Organization, ids: set[str]) -> list[Device | Meter]:
    if not ids:
        return []
    devices = (
        Device.objects.filter(organization=organization)
        .annotate(key=Lower("custom_id"))
        .filter(key__in=ids)
        .select_related("home", "organization")
    )
    meters = (
        Meter.objects.filter(organization=organization)
        .annotate(key=Lower("meter_number"))
        .filter(key__in=ids)
        .select_related("home", "organization")
    )
    return [*devices, *meters]


def owner_id(owner: Device | Meter) -> str:
    return owner.custom_id if isinstance(owner, Device) else owner.meter_number


def _by_file_name(organization: Organization, filename: str) -> list[Device | Meter]:
    """The records named in the file name; a name inside a longer matching name doesn't count
    ("SP-1" in "SP-1-B.csv" when SP-1-B exists too)."""
    found = _known_ids(organization, _name_candidates(file_stem(filename)))
    keys = {owner_id(owner).lower() for owner in found}
    return [
        owner
        for owner in found
        if not any(
            owner_id(owner).lower() in other and owner_id(owner).lower() != other for other in keys
        )
    ]


def peek_custom_id(fileobj: Any) -> tuple[str, int] | None:
    """The first customId value of the file and its row, from the first 64 KB (gzip too); None
    without a customId column. Reads from the start and rewinds."""
    fileobj.seek(0)
    head = fileobj.read(_PEEK_BYTES)
    fileobj.seek(0)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _PEEK_BYTES)
        except zlib.error:
            return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()[:-1] if len(head) >= _PEEK_BYTES else text.splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        return None
    header = numbered[0][1]
    for delimiter in (",", ";"):
        names = [name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter))]
        if "customid" in names:
            column = names.index("customid")
            for number, line in numbered[1:]:
                fields = next(csv.reader([line], delimiter=delimiter), [])
                if column < len(fields) and fields[column].strip():
                    return fields[column].strip(), number
            return None
    return None


def route_file(organization: Organization, upload: UploadedFile) -> Device | Meter | Refusal:
    """The device or meter a file on the Uploads page is for: named by its customId column or
    its file name (a device's custom id or a meter's number)."""
    filename = upload.name or "file"
    by_name = _by_file_name(organization, filename)
    in_column = peek_custom_id(upload)
    if in_column is not None:
        value, row = in_column
        matches = _known_ids(organization, {value.lower()})
        if not matches:
            return Refusal(
                filename,
                f"Its customId column names '{value}' (row {row}), which is no device custom id "
                f"or meter number in {organization.name}.",
            )
        if len(matches) > 1:
            return Refusal(
                filename,
                f"'{value}' (customId, row {row}) is both a device's custom id and a meter's "
                "number; upload it from the device's or the meter's page.",
            )
        owner = matches[0]
        if by_name and owner not in by_name:
            return Refusal(
                filename,
                f"Its file name names {owner_label(by_name[0])} but its customId column names "
                f"'{value}' (row {row}); rename the file or fix the column.",
            )
        return owner
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        named = ", ".join(sorted(owner_id(owner) for owner in by_name))
        return Refusal(
            filename,
            f"Its file name names several devices or meters ({named}); keep one in the name.",
        )
    return Refusal(
        filename,
        f"It names no device or meter of {organization.name}: put a device's custom id or a "
        "meter's number in the file name (e.g. SP-0042.csv) or in a customId column.",
    )
