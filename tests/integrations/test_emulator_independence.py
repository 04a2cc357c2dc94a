"""The emulators take their vocabulary from the contract documents (docs/upstreams/), not from the
clients they test: a client and its emulator that share a list agree on every mistake in it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations import wattcarbon as client_side
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL, WattCarbonEmulator
from integrations.sandbox.wattcarbon import vocabulary as emulator_side

SANDBOX = Path(__file__).resolve().parents[2] / "integrations" / "sandbox"

# What an emulator must not import: the portal's clients, their HTTP base, the adapters,
# and the portal's own vocabulary (devices/kinds.py, integrations/vocabulary/).
FORBIDDEN = (
    "integrations.wattcarbon",
    "integrations.spark",
    "integrations.wattshift",
    "integrations.wattics",
    "integrations.http",
    "integrations.clients",
    "integrations.adapters",
    "integrations.vocabulary",
    "devices.kinds",
)
# No exception: every emulator, Spark's webhook signing included, is its own reading.
ALLOWED: set[tuple[str, str]] = set()


def imported_modules(path: Path, package: str = "integrations.sandbox") -> Iterator[str]:
    """Every module a file of `package` imports, at any depth, relative imports resolved."""
    yield from imported_modules_of(path.read_text(), package)


def imported_modules_of(source: str, package: str) -> Iterator[str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield module
            # `from integrations import wattcarbon` imports the module named by the alias.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def package_of(path: Path) -> str:
    """The package a file of the sandbox belongs to (`integrations.sandbox.spark` for spark/app.py)."""
    if not path.is_relative_to(SANDBOX):
        return "integrations.sandbox"
    return ".".join(("integrations", "sandbox", *path.relative_to(SANDBOX).parent.parts))


def forbidden_imports(path: Path) -> list[str]:
    found = []
    for module in imported_modules(path, package_of(path)):
        for prefix in FORBIDDEN:
            hit = module == prefix or module.startswith(prefix + ".")
            if hit and (name_of(path), prefix) not in ALLOWED:
                found.append(module)
    return sorted(set(found))


def name_of(path: Path) -> str:
    return path.relative_to(SANDBOX).as_posix() if path.is_relative_to(SANDBOX) else path.name


EMULATOR_FILES = sorted(SANDBOX.rglob("*.py"))


def test_it_finds_the_emulator_packages() -> None:
    names = {name_of(path) for path in EMULATOR_FILES}
    for platform in ("wattcarbon", "spark", "wattshift", "wattics"):
        assert {
            f"{platform}/{part}.py" for part in ("__init__", "app", "validation", "data")
        } <= names


@pytest.mark.parametrize("path", EMULATOR_FILES, ids=name_of)
def test_it_keeps_every_emulator_free_of_client_imports(path: Path) -> None:
    assert forbidden_imports(path) == []


def test_it_resolves_relative_imports_inside_an_emulator_package() -> None:
    sample = "from .data import STATE\nfrom ... import http\nfrom ...wattics import push\n"
    path = SANDBOX / "spark" / "app.py"

    modules = set(imported_modules_of(sample, package_of(path)))

    assert {
        "integrations.sandbox.spark.data",
        "integrations.http",
        "integrations.wattics",
    } <= modules


def test_it_notices_a_client_import_written_in_any_form(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from integrations.wattcarbon import DEVICE_KINDS\n"
        "from integrations import wattshift\n"
        "from .. import http\n"
        "def later():\n"
        "    from devices.kinds import KINDS\n"
        "    import integrations.adapters.wattics\n"
    )

    assert forbidden_imports(sample) == [
        "devices.kinds",
        "devices.kinds.KINDS",
        "integrations.adapters.wattics",
        "integrations.http",
        "integrations.wattcarbon",
        "integrations.wattcarbon.DEVICE_KINDS",
        "integrations.wattshift",
    ]


# --- client and emulator agree, each from its own list ----------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    with RunningEmulator(WattCarbonEmulator()) as running:
        yield running


@pytest.fixture
def api(server: RunningEmulator) -> Iterator[httpx.Client]:
    server.app.reset()
    token = httpx.post(
        f"{server.base_url}/auth/token",
        data={"grant_type": "password", "username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY},
    ).json()["access_token"]
    with httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


def device(kind: str, **fields: Any) -> dict[str, Any]:
    base = {"name": "Probe", "location": "60 Greene St Riverside IA", "kind": kind}
    if kind == "solar":
        base["nameplateCapacityKw"] = "5"
    return {**base, **fields}


ENUMS = [
    ("solar", "inverterDataSource", client_side.INVERTER_DATA_SOURCES),
    ("solar", "externalRegistryName", client_side.EXTERNAL_REGISTRIES),
    ("electrification", "previousFuel", client_side.PREVIOUS_FUELS),
    ("electrification", "buildingType", client_side.BUILDING_TYPES),
    ("electrification", "heatingBackupSystem", client_side.HEATING_BACKUP_SYSTEMS),
]


def test_it_has_the_emulator_take_every_kind_the_client_sends(api: httpx.Client) -> None:
    refused = {
        kind: api.post("/devices", json=device(kind)).status_code
        for kind in client_side.DEVICE_KINDS
    }

    assert all(status == 201 for status in refused.values()), refused


@pytest.mark.parametrize(("kind", "field", "values"), ENUMS, ids=[case[1] for case in ENUMS])
def test_it_has_the_emulator_take_every_enum_value_the_client_offers(
    api: httpx.Client, kind: str, field: str, values: tuple[str, ...]
) -> None:
    refused = [
        value
        for value in values
        if api.post("/devices", json=device(kind, **{field: value})).status_code != 201
    ]

    assert refused == [], f"the client offers {field} values the contract does not list"


def test_it_keeps_the_seed_value_of_each_enum_first_in_the_emulator() -> None:
    assert emulator_side.INVERTER_DATA_SOURCES[0] == "enphase"
    assert emulator_side.EXTERNAL_REGISTRIES[0] == "GATS"
    assert emulator_side.PREVIOUS_FUELS[0] == "natural_gas"
    assert emulator_side.BUILDING_TYPES[0] == "single_family_attached"
    assert emulator_side.HEATING_BACKUP_SYSTEMS[0] == "electric_resistance"
