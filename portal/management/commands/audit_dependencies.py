"""`manage.py audit_dependencies`: check the locked dependencies against PyPI's vulnerability data.

pip-audit needs PyPI's per-release JSON (or OSV), which the CI machines cannot reach; PyPI's
project JSON is reachable and lists the known vulnerabilities of the latest release. So: a pin
equal to the latest release is checked against that list; an older pin is checked against each
listed vulnerability's `fixed_in` (an older pin below a fix is vulnerable); what cannot be checked
is said, never passed over silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from packaging.version import InvalidVersion, Version

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def pins(lock: Path) -> list[tuple[str, str]]:
    found = []
    for line in lock.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found.append((re.sub(r"\[.*\]", "", match.group(1)), match.group(2)))
    return found


def affected(pinned: str, latest: str, vulnerability: dict) -> bool:
    """Whether `pinned` is hit by a vulnerability listed for the latest release."""
    fixed = [Version(v) for v in vulnerability.get("fixed_in") or [] if _is_version(v)]
    version = Version(pinned)
    if not fixed:
        return version <= Version(latest)  # no fix yet: every release up to the latest is affected
    return any(version < fix for fix in fixed)


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


class Command(BaseCommand):
    help = "Check requirements.lock against PyPI's vulnerability data; exit 1 on a known vulnerability."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lock", default=str(Path(settings.BASE_DIR) / "requirements.lock"))
        parser.add_argument("--index", default="https://pypi.org/pypi")

    def handle(self, *args: object, **options: str) -> None:
        vulnerable, unreachable = [], []
        packages = pins(Path(options["lock"]))
        with httpx.Client(timeout=15, headers={"User-Agent": "gridfolio-audit"}) as client:
            for name, version in packages:
                try:
                    response = client.get(f"{options['index']}/{name}/json")
                    response.raise_for_status()
                    data = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    unreachable.append(f"{name}: {exc}")
                    continue
                latest = data.get("info", {}).get("version", version)
                for vulnerability in data.get("vulnerabilities") or []:
                    if affected(version, latest, vulnerability):
                        ids = ", ".join(
                            [vulnerability.get("id", "?"), *(vulnerability.get("aliases") or [])]
                        )
                        vulnerable.append(
                            f"{name} {version}: {ids} (fixed in {', '.join(vulnerability.get('fixed_in') or ['-'])})"
                        )
        self.stdout.write(
            f"Checked {len(packages) - len(unreachable)} of {len(packages)} locked packages against PyPI."
        )
        for line in unreachable:
            self.stdout.write(f"  not checked: {line}")
        for line in vulnerable:
            self.stdout.write(self.style.ERROR(f"  VULNERABLE {line}"))
        if vulnerable:
            raise CommandError(
                f"{len(vulnerable)} known vulnerabilit{'y' if len(vulnerable) == 1 else 'ies'}.",
                returncode=1,
            )
        if unreachable and len(unreachable) == len(packages):
            raise CommandError("PyPI could not be reached: nothing was checked.", returncode=1)
        self.stdout.write(self.style.SUCCESS("No known vulnerability in the locked dependencies."))
