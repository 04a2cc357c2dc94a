"""The WattCarbon emulator's routes (WSGI): token grant, devices, timeseries uploads."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

from integrations.sandbox.base import REASONS, Emulator, Request, Response

from .data import SANDBOX_API_KEY, SANDBOX_EMAIL, ErrorList, WattCarbonState
from .validation import _error, parse_timeseries_csv, solar_flags, validate_device, validation_error
from .vocabulary import (
    TOKEN_LIFETIME_S,
)


class WattCarbonEmulator(WattCarbonState, Emulator):
    """WSGI emulator of api.wattcarbon.com (see the package docstring for what it enforces)."""

    name = "wattcarbon"

    def __init__(
        self,
        state_path: str | Path | None = None,
        *,
        accounts: dict[str, str] | None = None,
        token_lifetime_s: int = TOKEN_LIFETIME_S,
        send_expires_in: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Accounts are configuration, not data: they survive /_sandbox/reset.
        self.accounts = {SANDBOX_EMAIL: SANDBOX_API_KEY} if accounts is None else dict(accounts)
        self.token_lifetime_s = token_lifetime_s
        self.send_expires_in = send_expires_in  # docs/upstreams: the platform may leave it out
        self.clock = clock
        self.user_agents: list[str] = []  # of every API call, so tests can check ours is sent
        super().__init__(state_path)

    def setup_routes(self) -> None:
        self.route("POST", r"/auth/token", self.create_token)
        self.route("POST", r"/devices", self.create_device)
        self.route("PUT", r"/devices/(?P<device_id>[^/]+)", self.update_device)
        self.route("GET", r"/devices/(?P<device_id>[^/]+)", self.get_device)
        self.route("POST", r"/devices/(?P<device_id>[^/]+)/timeseries", self.upload_timeseries)

    def dispatch(self, request: Request) -> Response:
        if not request.path.startswith("/_sandbox/"):
            with self.lock:
                self.user_agents.append(request.headers.get("user-agent", ""))
        return super().dispatch(request)

    def error_for_fault(self, status: int) -> Response:
        """Injected failures look like what sits in front of the platform would send."""
        if status == 500:
            # Starlette's own answer to an unhandled exception is plain text.
            return Response.text(500, "Internal Server Error")
        if status in (502, 503, 504):
            # The load balancer answers these, in HTML, before FastAPI sees the call.
            reason = REASONS.get(status, "Error")
            html = (
                f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n"
                f"<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
            )
            return Response(status, html.encode(), [("Content-Type", "text/html")])
        if status == 401:
            return self.unauthorized("Could not validate credentials")
        if status == 422:
            return validation_error([_error(["body"], "Field required", "missing")])
        return Response.json(status, {"detail": REASONS.get(status, "Error")})

    def malformed(self, request: Request) -> Response:
        """FastAPI's answer to a body that is not JSON (or not UTF-8)."""
        return validation_error([_error(["body", 0], "JSON decode error", "json_invalid")])

    # --- auth -------------------------------------------------------------------------------
    @staticmethod
    def unauthorized(detail: str) -> Response:
        return Response(
            401,
            Response.json(401, {"detail": detail}).body,
            [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")],
        )

    def create_token(self, request: Request) -> Response:
        # OAuth2PasswordRequestForm: only a urlencoded form is read; anything else (JSON) leaves
        # every form field missing.
        form = request.form() if request.content_type == "application/x-www-form-urlencoded" else {}
        errors: ErrorList = [
            _error(["body", field], "Field required", "missing")
            for field in ("grant_type", "username", "password")
            if field not in form
        ]
        if "grant_type" in form and form["grant_type"] != "password":
            errors.insert(
                0,
                _error(
                    ["body", "grant_type"],
                    "String should match pattern '^password$'",
                    "string_pattern_mismatch",
                ),
            )
        if errors:
            return validation_error(errors)
        api_key = self.state["accounts"].get(form["username"])
        if api_key is None or not hmac.compare_digest(api_key, form["password"]):
            return self.unauthorized("Incorrect username or password")
        now = self.clock()
        # Forget long-dead tokens so the persisted state does not grow without bound.
        self.state["tokens"] = {
            key: value
            for key, value in self.state["tokens"].items()
            if value["expires_at"] > now - 24 * 3600
        }
        token = self.new_id("wct_") + self.new_id()
        self.state["tokens"][token] = {
            "email": form["username"],
            "expires_at": now + self.token_lifetime_s,
        }
        body: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
        if self.send_expires_in:
            body["expires_in"] = self.token_lifetime_s
        return Response.json(200, body)

    def account_for(self, request: Request) -> str | Response:
        """The account email of the bearer token, or the 401 to answer."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self.unauthorized("Not authenticated")
        issued = self.state["tokens"].get(token.strip())
        if issued is None:
            return self.unauthorized("Could not validate credentials")
        if issued["expires_at"] <= self.clock():
            return self.unauthorized("Token has expired")
        return issued["email"]

    # --- devices ----------------------------------------------------------------------------
    def create_device(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        return self._store_device(request, account, self.new_id("dev_"), created=True)

    def update_device(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        device_id = request.params["device_id"]
        if self.owned_device(account, device_id) is None:
            return Response.json(404, {"detail": "Device not found"})
        return self._store_device(request, account, device_id, created=False)

    def _store_device(
        self, request: Request, account: str, device_id: str, *, created: bool
    ) -> Response:
        """The body of a create or an update, checked as the platform checks it (422, 409 on a
        customId the account holds on another device), then kept under `device_id`."""
        body = self.json_body(request)
        if isinstance(body, Response):
            return body
        device, errors = validate_device(body)
        if errors:
            return validation_error(errors)
        exclude = None if created else device_id
        clash = self.custom_id_clash(account, device.get("customId"), exclude=exclude)
        if clash:
            return Response.json(409, {"detail": clash})
        self.state["devices"][device_id] = {"account": account, "device": device}
        return Response.json(201 if created else 200, {"id": device_id, **device})

    def get_device(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        device_id = request.params["device_id"]
        device = self.owned_device(account, device_id)
        if device is None:
            return Response.json(404, {"detail": "Device not found"})
        return Response.json(200, {"id": device_id, **device})

    def owned_device(self, account: str, device_id: str) -> dict[str, Any] | None:
        """The device, if it exists and belongs to `account` (another account's is just unknown)."""
        record = self.state["devices"].get(device_id)
        if record is None or record["account"] != account:
            return None
        return record["device"]

    def custom_id_clash(self, account: str, custom_id: str | None, exclude: str | None) -> str:
        if custom_id is None:
            return ""
        for device_id, record in self.state["devices"].items():
            if device_id == exclude or record["account"] != account:
                continue
            if record["device"].get("customId") == custom_id:
                return f"A device with customId '{custom_id}' already exists in this account"
        return ""

    @staticmethod
    def json_body(request: Request) -> dict[str, Any] | Response:
        """The JSON object body, or FastAPI's 422 (a malformed body raises into `malformed`)."""
        if not request.body:
            return validation_error([_error(["body"], "Field required", "missing")])
        body = request.json() if request.content_type.endswith("json") else None
        if not isinstance(body, dict):
            return validation_error(
                [
                    _error(
                        ["body"],
                        "Input should be a valid dictionary or object to extract fields from",
                        "model_attributes_type",
                    )
                ]
            )
        return body

    # --- timeseries -------------------------------------------------------------------------
    def upload_timeseries(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        device_id = request.params["device_id"]
        device = self.owned_device(account, device_id)
        if device is None:
            return Response.json(404, {"detail": "Device not found"})
        upload = multipart_file(request)
        if upload is None:
            return validation_error([_error(["body", "file"], "Field required", "missing")])
        filename, content = upload
        points, errors = parse_timeseries_csv(content)
        if errors:
            return validation_error(errors)

        commenced = device.get("commencedOperationDate")
        start = datetime.fromisoformat(commenced).replace(tzinfo=UTC) if commenced else None
        stored = self.state["timeseries"].setdefault(device_id, {})
        flags = self.state["flags"].setdefault(device_id, {})
        accepted = ignored = flagged = 0
        for instant, value_kwh in points:
            if start is not None and instant < start:
                ignored += 1
                continue
            key = instant.isoformat()
            stored[key] = value_kwh
            reasons = solar_flags(device, instant, value_kwh)
            if reasons:
                flags[key] = reasons
                flagged += 1
            else:
                flags.pop(key, None)  # a re-upload can clear what an earlier one flagged
            accepted += 1
        summary = {
            "deviceId": device_id,
            "filename": filename,
            "rows": len(points),
            "accepted": accepted,
            "ignored": ignored,
            "flagged": flagged,
            "start": points[0][0].isoformat(),
            "end": points[-1][0].isoformat(),
            "uploadedAt": datetime.fromtimestamp(self.clock(), UTC).isoformat(),
        }
        self.state["uploads"].setdefault(device_id, []).append(summary)
        return Response.json(201, summary)


def multipart_file(request: Request) -> tuple[str, bytes] | None:
    """(filename, content) of the multipart part named `file`, or None when there is none."""
    if request.content_type != "multipart/form-data":
        return None
    header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(header + request.body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return part.get_filename() or "", payload if isinstance(payload, bytes) else b""
    return None
