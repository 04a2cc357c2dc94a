"""The WattCarbon emulator of the current API: meters, their intervals and bills, assets, documents.

Enforces docs/upstreams/wattcarbon.md ("Current profile", the developer guide of Dec 2025). Sign-in
is the quickstart's (unchanged). Only `POST /assets` is a published path; the others are the
inferred defaults (`/meters`, `/meters/{id}/intervals`, `/meters/{id}/bills`,
`/assets/{id}/documents`), which a connection may change, so the emulator serves those. Strict as
a pydantic API: an unknown kind, a missing location, an extra field, `meterIds` naming a meter the
account does not hold, a CSV whose header is not exactly the published one, or a customId the
account already gave an asset is refused. Its whole state is at `GET /_sandbox/state`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from integrations.sandbox.base import Request, Response

from .app import WattCarbonEmulator
from .current_validation import (
    DOCUMENT_TYPES,
    parse_bills_csv,
    parse_dr_events_csv,
    parse_intervals_csv,
    validate_asset,
    validate_meter,
)
from .validation import _enum_message, _error, validation_error


class WattCarbonCurrentEmulator(WattCarbonEmulator):
    """WSGI emulator of api.wattcarbon.com's current API (see the module docstring)."""

    name = "wattcarbon-current"

    def initial_state(self) -> dict[str, Any]:
        return {
            "accounts": dict(self.accounts),
            "tokens": {},
            "next_meter_id": 1000,
            "meters": {},  # meter id (text of the int) -> {"account", "meter"}
            "intervals": {},  # meter id -> {UTC ISO instant: kWh}
            "bills": {},  # meter id -> [{start_date, end_date, energy_kwh}]
            "assets": {},  # asset id -> {"account", "asset"}
            "documents": {},  # asset id -> [{"id", "type", "filename", "events"}]
            "uploads": [],  # a summary of every accepted upload
        }

    def setup_routes(self) -> None:
        self.route("POST", r"/auth/token", self.create_token)
        self.route("POST", r"/meters", self.create_meter)
        self.route("POST", r"/meters/(?P<meter_id>[^/]+)/intervals", self.upload_intervals)
        self.route("POST", r"/meters/(?P<meter_id>[^/]+)/bills", self.upload_bills)
        self.route("POST", r"/assets", self.create_asset)
        self.route("POST", r"/assets/(?P<asset_id>[^/]+)/documents", self.upload_document)

    # --- meters -------------------------------------------------------------------------------
    def create_meter(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        body = self.json_body(request)
        if isinstance(body, Response):
            return body
        meter, errors = validate_meter(body)
        if errors:
            return validation_error(errors)
        meter_id = self.state["next_meter_id"]
        self.state["next_meter_id"] = meter_id + 1
        self.state["meters"][str(meter_id)] = {"account": account, "meter": meter}
        return Response.json(201, {"id": meter_id, **meter})

    def owned_meter(self, account: str, meter_id: str) -> dict[str, Any] | None:
        record = self.state["meters"].get(meter_id)
        return record["meter"] if record is not None and record["account"] == account else None

    def upload_intervals(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        meter_id = request.params["meter_id"]
        if self.owned_meter(account, meter_id) is None:
            return Response.json(404, {"detail": "Meter not found"})
        upload = multipart_parts(request).get("file")
        if upload is None:
            return validation_error([_error(["body", "file"], "Field required", "missing")])
        points, errors = parse_intervals_csv(upload[1])
        if errors:
            return validation_error(errors)
        stored = self.state["intervals"].setdefault(meter_id, {})
        for instant, value_kwh in points:
            stored[instant.isoformat()] = value_kwh  # a read sent again replaces the one held
        return self._uploaded("intervals", meter_id, upload[0], len(points))

    def upload_bills(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        meter_id = request.params["meter_id"]
        if self.owned_meter(account, meter_id) is None:
            return Response.json(404, {"detail": "Meter not found"})
        upload = multipart_parts(request).get("file")
        if upload is None:
            return validation_error([_error(["body", "file"], "Field required", "missing")])
        bills, errors = parse_bills_csv(upload[1])
        if errors:
            return validation_error(errors)
        held = {
            (bill["start_date"], bill["end_date"]): bill
            for bill in self.state["bills"].get(meter_id, [])
        }
        held.update({(bill["start_date"], bill["end_date"]): bill for bill in bills})
        self.state["bills"][meter_id] = sorted(held.values(), key=lambda bill: bill["start_date"])
        return self._uploaded("bills", meter_id, upload[0], len(bills))

    def _uploaded(self, what: str, record_id: str, filename: str, rows: int) -> Response:
        summary = {
            "kind": what,
            "recordId": record_id,
            "filename": filename,
            "rows": rows,
            "uploadedAt": datetime.fromtimestamp(self.clock(), UTC).isoformat(),
        }
        self.state["uploads"].append(summary)
        return Response.json(201, summary)

    # --- assets -------------------------------------------------------------------------------
    def create_asset(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        body = self.json_body(request)
        if isinstance(body, Response):
            return body
        asset, errors = validate_asset(
            body, lambda meter_id: self.owned_meter(account, str(meter_id)) is not None
        )
        if errors:
            return validation_error(errors)
        custom_id = asset.get("customId")
        for record in self.state["assets"].values():
            if (
                record["account"] == account
                and custom_id
                and record["asset"].get("customId") == custom_id
            ):
                return Response.json(
                    409,
                    {
                        "detail": f"An asset with customId '{custom_id}' already exists in this account"
                    },
                )
        asset_id = self.new_id("ast_")
        self.state["assets"][asset_id] = {"account": account, "asset": asset}
        return Response.json(201, {"id": asset_id, **asset})

    def upload_document(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        asset_id = request.params["asset_id"]
        record = self.state["assets"].get(asset_id)
        if record is None or record["account"] != account:
            return Response.json(404, {"detail": "Asset not found"})
        parts = multipart_parts(request)
        errors = [
            _error(["body", name], "Field required", "missing")
            for name in ("file", "type")
            if name not in parts
        ]
        if errors:
            return validation_error(errors)
        document_type = parts["type"][1].decode("utf-8", "replace")
        if document_type not in DOCUMENT_TYPES:
            return validation_error(
                [_error(["body", "type"], _enum_message(DOCUMENT_TYPES), "enum")]
            )
        if record["asset"].get("kind") != "demand_response_eemetered":
            return validation_error(
                [
                    _error(
                        ["body", "type"],
                        "demand_response_events belong to a demand_response_eemetered asset",
                        "value_error",
                    )
                ]
            )
        events, errors = parse_dr_events_csv(parts["file"][1])
        if errors:
            return validation_error(errors)
        document = {
            "id": self.new_id("doc_"),
            "type": document_type,
            "filename": parts["file"][0],
            "events": events,
        }
        self.state["documents"].setdefault(asset_id, []).append(document)
        return Response.json(
            201, {"id": document["id"], "assetId": asset_id, "type": document_type}
        )


def multipart_parts(request: Request) -> dict[str, tuple[str, bytes]]:
    """{part name: (filename, content)} of a multipart/form-data body ({} for any other)."""
    if request.content_type != "multipart/form-data":
        return {}
    header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(header + request.body)
    if not message.is_multipart():
        return {}
    parts: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = (
                part.get_filename() or "",
                payload if isinstance(payload, bytes) else b"",
            )
    return parts
