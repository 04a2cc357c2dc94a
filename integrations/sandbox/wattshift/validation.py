"""The WattShift emulator's contract checks: the error envelope, JSON bodies, fields, instants."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from integrations.sandbox.base import Request

# error_code for the statuses fault injection can produce.
FAULT_CODES = {
    400: "VALIDATION_FAILED",
    401: "AUTH_INVALID_API_KEY",
    404: "NOT_FOUND",
    429: "RATE_LIMITED",
}


class ApiError(Exception):
    """An error answer, raised anywhere inside a handler and turned into the envelope."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        field_errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.field_errors = field_errors or []


def validation_failed(field_errors: list[dict[str, str]]) -> ApiError:
    return ApiError(400, "VALIDATION_FAILED", "Request validation failed.", field_errors)


class WattShiftChecks:
    """Body and field checks of the contract (mixed into WattShiftEmulator)."""

    @staticmethod
    def json_body(request: Request) -> dict[str, Any]:
        if not request.body.strip():
            # The session-token call has no body in the seed; elsewhere the field checks complain.
            return {}
        content_type = request.content_type
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise ApiError(400, "VALIDATION_FAILED", "Content-Type must be application/json.")
        try:
            data = json.loads(request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "VALIDATION_FAILED", "Request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "VALIDATION_FAILED", "Request body must be a JSON object.")
        return data

    @staticmethod
    def unknown_fields(body: dict[str, Any], allowed: Iterable[str]) -> list[dict[str, str]]:
        allowed = set(allowed)
        return [
            {"field": key, "message": "is not a recognised field"}
            for key in body
            if key not in allowed
        ]

    @staticmethod
    def _parse_instant(value: Any, field: str, errors: list[dict[str, str]]) -> datetime | None:
        message = "must be an ISO 8601 date-time with a UTC offset"
        if not isinstance(value, str):
            errors.append({"field": field, "message": message})
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            errors.append({"field": field, "message": message})
            return None
        if moment.tzinfo is None:
            errors.append({"field": field, "message": message})
            return None
        return moment.astimezone(UTC)
