"""The Spark emulator's webhook deliveries: its own signing, sent from a thread, retried."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from integrations.sandbox.base import Emulator

from .data import OPERATION_PAST, utc_now

# Delivers one webhook attempt: (url, body, headers) -> HTTP status; raises when it cannot connect.
Deliver = Callable[[str, bytes, dict[str, str]], int]

MAX_DELIVERY_RETRIES = 3  # docs/upstreams/spark.md: retried up to 3 times on a non-2xx answer
DELIVERY_TIMEOUT = httpx.Timeout(5.0)
DELIVERY_USER_AGENT = "Spark-Webhooks/1.0 (Gridfolio sandbox)"


# Signing is read from the contract here, not imported from the client (integrations/spark.py): the
# emulator is a second, independent reading, so a mistake in one shows up against the other.
SIGNATURE_HEADER = "Spark-Signature"  # seed §5
PUBLISHED_SIGNATURE_HEADER = "X-Payload-Signature"  # the published API's name for the same value


def signature(body: bytes, secret: str) -> str:
    """Base64 (standard, padded) of HMAC-SHA256 over the exact body bytes, keyed with the UTF-8
    webhook secret (docs/upstreams/spark.md, "Signature"; Volue's vector pins it)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def http_deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The default delivery transport: a real HTTP POST."""
    return httpx.post(url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT).status_code


class SparkDeliveries(Emulator):
    """Webhook events and their deliveries (mixed into SparkEmulator)."""

    # Set by SparkEmulator.__init__.
    deliver: Deliver
    background: bool
    retry_delay_s: float
    _threads: list[threading.Thread]

    def wait_for_deliveries(self, timeout_s: float = 10.0) -> bool:
        """Wait until every delivery started so far has finished; False on timeout."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        return not self._threads

    def _record_event(
        self, event_type: str, operation: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        event = {
            "eventId": str(uuid.uuid4()),
            "eventCreatedAtUtc": utc_now(),
            "eventType": event_type,
            "operation": operation,
            "payload": payload,
        }
        self.state["events"].append(event)
        return event

    def _dispatch(
        self,
        webhook: Mapping[str, Any],
        event: Mapping[str, Any],
        notification_type: str | None = None,
    ) -> dict[str, Any]:
        """Record one delivery of `event` to `webhook` and start it (caller holds the lock)."""
        envelope = {
            "notificationId": str(uuid.uuid4()),
            "eventId": event["eventId"],
            "eventCreatedAtUtc": event["eventCreatedAtUtc"],
            "notificationSentUtc": utc_now(),
            "notificationType": notification_type
            or f"{event['eventType']}{OPERATION_PAST[event['operation']]}",
            "operation": event["operation"],
            "eventType": event["eventType"],
            "payload": event["payload"],
        }
        # Compact JSON plus a trailing newline, as the published vector is sent: receivers must
        # verify the raw bytes, not a re-serialisation.
        body = (json.dumps(envelope, separators=(",", ":")) + "\n").encode("utf-8")
        signed = signature(body, webhook["webhookSecret"])
        headers = {
            "Content-Type": "application/json",
            "User-Agent": DELIVERY_USER_AGENT,
            SIGNATURE_HEADER: signed,
            PUBLISHED_SIGNATURE_HEADER: signed,
        }
        delivery = {
            "id": str(uuid.uuid4()),
            "webhook_id": webhook["webhookId"],
            "url": webhook["url"],
            "notification_id": envelope["notificationId"],
            "event_id": event["eventId"],
            "event_type": event["eventType"],
            "outcome": "pending",  # pending -> delivered | failed
            "attempts": 0,
            "status": None,  # HTTP status of the last attempt (None: no answer)
            "attempt_statuses": [],
            "error": "",
            "body": body.decode("utf-8"),
        }
        self.state["deliveries"].append(delivery)
        if self.background:
            thread = threading.Thread(
                target=self._deliver,
                args=(delivery["id"], webhook["url"], body, headers),
                name=f"spark-delivery-{delivery['id'][:8]}",
                daemon=True,
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        else:
            self._deliver(delivery["id"], webhook["url"], body, headers)
        return delivery

    def _deliver(self, delivery_id: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Send one delivery: the same bytes (same notificationId) on every attempt."""
        for attempt in range(1, MAX_DELIVERY_RETRIES + 2):
            status: int | None = None
            error = ""
            try:
                status = int(self.deliver(url, body, headers))
            except Exception as exc:  # any failure of the receiver is a failed attempt, not a crash
                error = f"{type(exc).__name__}: {exc}"
            succeeded = status is not None and 200 <= status < 300
            last = attempt > MAX_DELIVERY_RETRIES
            with self.lock:
                record = self._delivery(delivery_id)
                if record is None:
                    return  # the sandbox was reset meanwhile
                record["attempts"] = attempt
                record["status"] = status
                record["attempt_statuses"].append(status)
                record["error"] = error or ("" if succeeded else f"HTTP {status}")
                if succeeded:
                    record["outcome"] = "delivered"
                elif last:
                    record["outcome"] = "failed"
                self.save()
            if succeeded or last:
                return
            if self.retry_delay_s:
                time.sleep(self.retry_delay_s * attempt)

    def failed_deliveries(self, webhook_ids: set[str], limit: int = 10) -> list[dict[str, Any]]:
        """The newest deliveries to these webhooks that failed, or failed and will try again:
        the URL tried, the attempts, the last status and error (no body, no signature)."""
        with self.lock:
            found = [
                {
                    key: delivery.get(key)
                    for key in ("url", "attempts", "status", "error", "outcome", "event_type")
                }
                | {"event_type": delivery.get("event_type") or delivery.get("notification_type")}
                for delivery in self.state["deliveries"]
                if delivery["webhook_id"] in webhook_ids
                and delivery["attempts"]
                and delivery["outcome"] != "delivered"
            ]
        return found[::-1][:limit]

    def _delivery(self, delivery_id: str) -> dict[str, Any] | None:
        return next((d for d in self.state["deliveries"] if d["id"] == delivery_id), None)
