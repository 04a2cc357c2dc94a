"""Every `# type: ignore` in the apps names its error code and says why, on its own line:
`x = y  # type: ignore[attr-defined]  # django-stubs: ...`. mypy runs in CI (.ci/run)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("portal", "homes", "devices", "readings", "onboarding", "integrations")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[^\]]+\])?(?P<rest>.*)$")


def ignores_without_reason(text: str) -> list[str]:
    bad = []
    for number, line in enumerate(text.splitlines(), 1):
        match = IGNORE.search(line)
        if match and not (match["code"] and re.match(r"\s*#\s*\S", match["rest"])):
            bad.append(f"{number}: {line.strip()}")
    return bad


def test_it_finds_every_type_ignore_with_its_code_and_reason() -> None:
    found = {
        str(path.relative_to(ROOT)): bad
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and (bad := ignores_without_reason(path.read_text()))
    }
    assert found == {}


def test_it_tells_a_reasoned_ignore_from_a_bare_one() -> None:
    assert ignores_without_reason("x = 1  # type: ignore[misc]  # django-stubs: a mixin") == []
    assert ignores_without_reason("x = 1  # type: ignore") != []
    assert ignores_without_reason("x = 1  # type: ignore[misc]") != []
