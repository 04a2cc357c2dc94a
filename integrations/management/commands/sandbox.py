"""`manage.py sandbox --port 8765`: serve the emulators over real HTTP on one port each: the four
platforms' quickstart contracts, then the current published APIs of the three that changed."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.registry import CURRENT_SANDBOX_HOSTS, emulator

PLATFORMS = ("wattcarbon", "spark", "wattshift", "wattics")
# (platform, profile) in port order: PORT, PORT+1, ...
SERVED = [(p, "quickstart") for p in PLATFORMS] + [(p, "current") for p in CURRENT_SANDBOX_HOSTS]


class Command(BaseCommand):
    help = (
        "Serve the sandbox emulators over HTTP: WattCarbon on PORT, Spark PORT+1, WattShift PORT+2, "
        "Wattics PORT+3 (quickstart contracts; Wattics serves both profiles), then the current APIs: "
        "WattCarbon PORT+4, Spark PORT+5, WattShift PORT+6."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: object, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        servers = [
            RunningEmulator(emulator(platform, profile), options["host"], options["port"] + i)
            for i, (platform, profile) in enumerate(SERVED)
        ]
        for (platform, profile), server in zip(SERVED, servers, strict=True):
            server.__enter__()
            self.stdout.write(f"{platform:<11} {profile:<11} {server.base_url}")
        origins = ",".join(server.base_url for server in servers)
        self.stdout.write(
            "A portal in another process may call these once its operator allows them:\n"
            f"  UPSTREAM_ALLOWED_ORIGINS={origins}"
        )
        self.stdout.write("State is kept under DATA_DIR/sandbox/. Ctrl-C stops.")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for server in servers:
                server.__exit__(None, None, None)
