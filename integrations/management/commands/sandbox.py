"""`manage.py sandbox --port 8765`: serve the four emulators over real HTTP on one port each."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.registry import emulator

PLATFORMS = ("wattcarbon", "spark", "wattshift", "wattics")


class Command(BaseCommand):
    help = "Serve the sandbox emulators over HTTP: WattCarbon on PORT, Spark PORT+1, WattShift PORT+2, Wattics PORT+3."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: object, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        servers = [
            RunningEmulator(emulator(p), options["host"], options["port"] + i)
            for i, p in enumerate(PLATFORMS)
        ]
        for platform, server in zip(PLATFORMS, servers, strict=True):
            server.__enter__()
            self.stdout.write(f"{platform:<11} {server.base_url}")
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
