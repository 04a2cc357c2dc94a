"""`.env.example` documents exactly the environment variables portal/settings.py reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Calls whose first argument names an environment variable: env("X"), env.<cast>("X"),
# _secret("X", ...), os.environ["X"], os.environ.get("X") and os.getenv("X").
ENV_READERS = {"env", "_secret", "getenv"}
ENV_ATTRIBUTE_OWNERS = {"env", "environ"}


def _first_string(node: ast.Call) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _reads(node: ast.AST) -> str | None:
    """The variable an expression reads from the environment, if it reads one."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ENV_READERS:
            return _first_string(node)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name | ast.Attribute):
            owner = func.value.id if isinstance(func.value, ast.Name) else func.value.attr
            if owner in ENV_ATTRIBUTE_OWNERS or func.attr == "getenv":
                return _first_string(node)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "environ"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    return None


def settings_reads() -> set[str]:
    tree = ast.parse((ROOT / "portal" / "settings.py").read_text())
    return {name for node in ast.walk(tree) if (name := _reads(node)) is not None}


def example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_it_finds_the_variables_settings_reads():
    reads = settings_reads()
    # One of each way of reading: a cast, a secret, a URL parser; a sanity floor for the parser.
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "EMAIL_URL", "CACHE_URL"} <= reads
    assert len(reads) >= 50


def test_it_documents_every_variable_settings_reads():
    assert sorted(settings_reads() - example_names()) == []


def test_it_documents_no_variable_settings_does_not_read():
    assert sorted(example_names() - settings_reads()) == []


def test_it_recognises_each_way_of_reading_the_environment():
    source = """
a = env("A")
b = env.int("B", default=1)
c = _secret("C", "dev")
d = os.environ["D"]
e = os.environ.get("E")
f = os.getenv("F")
g = other("G")
"""
    names = {name for node in ast.walk(ast.parse(source)) if (name := _reads(node)) is not None}
    assert names == {"A", "B", "C", "D", "E", "F"}
