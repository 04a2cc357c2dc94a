"""`manage.py sync_status --org SLUG [--platform P] [--state S] [--json]`: every link of an
organization, one per line (tab-separated), or with `--json` one JSON array of objects.

Columns (JSON keys): platform, channel, kind (what the record is on the platform: device, user,
vehicle, stream ...), record (our model and id, e.g. `device#12`), identifier (what names the
record to a person: a device's custom id, a meter's number, a customer's or home's name, a
report's name), state (`in_doubt` included), paused, behind (Wattics streams: readings stored but
not yet acknowledged; null elsewhere), remote_id, last_error; in JSON also profile (the contract
profile the link's remote id belongs to) and unsent (`not_accepted`: the profile has no place for
the record, so nothing is sent; `out_of_date`: a change no call can carry; "" otherwise), which a
line shows after its state (`synced,not_accepted`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models

from integrations.adapters.base import adapter_for_link
from integrations.adapters.wattics import backlog
from integrations.models import Channel, LinkState, Platform, UpstreamLink
from portal.models import Organization


def identifier(record: models.Model | None) -> str:
    """What a person knows the record by."""
    if record is None:
        return ""
    for field in ("custom_id", "meter_number", "name"):
        value = getattr(record, field, "")
        if value:
            return str(value)
    return str(record)


def link_rows(links: list[UpstreamLink]) -> list[dict[str, Any]]:
    """One plain dict per link, its record read once per kind of record."""
    wanted: dict[Any, set[int]] = defaultdict(set)
    for link in links:
        wanted[link.content_type].add(link.object_id)
    records = {
        (content_type.pk, pk): record
        for content_type, pks in wanted.items()
        for pk, record in content_type.model_class()._default_manager.in_bulk(pks).items()
    }
    rows = []
    for link in links:
        record = records.get((link.content_type_id, link.object_id))
        adapter = adapter_for_link(link, record, link.profile) if record is not None else None
        behind = None
        if link.channel == Channel.PACKETS and record is not None:
            behind = backlog(link, record)
        rows.append(
            {
                "platform": link.platform,
                "channel": link.channel,
                "kind": (adapter.label if adapter else "") or link.content_type.model,
                "record": f"{link.content_type.model}#{link.object_id}",
                "identifier": identifier(record),
                "state": link.state,
                "paused": link.paused,
                "behind": behind,
                "remote_id": link.remote_id,
                "last_error": link.last_error,
                "profile": link.profile,
                "unsent": link.unsent,
            }
        )
    return rows


def line(row: dict[str, Any]) -> str:
    state = row["state"]
    if row["unsent"]:
        state += f",{row['unsent']}"
    if row["paused"]:
        state += ",paused"
    if row["behind"]:
        state += f",behind:{row['behind']}"
    cells = [
        row["platform"],
        row["channel"],
        row["kind"],
        row["record"],
        row["identifier"],
        state,
        row["remote_id"] or "-",
        row["last_error"] or "-",
    ]
    return "\t".join(" ".join(str(cell).split()) for cell in cells)  # one line, whatever it says


class Command(BaseCommand):
    help = (
        "Every link of an organization: platform, channel, kind, our record, what names it, "
        "state (in doubt, not accepted, paused, behind), remote id, last error. --json: one JSON "
        "array (with each link's profile)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="the organization (slug)")
        parser.add_argument("--platform", choices=Platform.values, help="only this platform")
        parser.add_argument("--state", choices=LinkState.values, help="only links in this state")
        parser.add_argument(
            "--json", action="store_true", help="one JSON array of objects instead of lines"
        )

    def handle(self, *args: object, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        links = UpstreamLink.objects.filter(organization=organization).select_related(
            "content_type"
        )
        if options["platform"]:
            links = links.filter(platform=options["platform"])
        if options["state"]:
            links = links.filter(state=options["state"])
        rows = link_rows(list(links.order_by("platform", "channel", "content_type", "object_id")))
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(line(row))
