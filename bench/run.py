"""`make bench`: run every benchmark in bench/ and print one table of figures and ratios.

Each benchmark is a module `bench/<name>.py` (or package `bench/<name>/`) exposing
`run() -> list[Row]`: a Row names a measurement, our figure, the baseline measured in the same run,
and the target ratio. Nothing here asserts: a benchmark reports, the reader judges.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")


def discover() -> list[str]:
    names = []
    for entry in sorted(HERE.iterdir()):
        if entry.name.startswith(("_", ".")) or entry.name in {
            "run.py",
            "settings.py",
            "common.py",
        }:
            continue
        if entry.suffix == ".py" or (entry.is_dir() and (entry / "__init__.py").exists()):
            names.append(entry.stem)
    return names


def main(argv: list[str]) -> int:
    import django

    django.setup()
    from bench.common import print_table

    wanted = argv or discover()
    rows = []
    for name in wanted:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name} ==", flush=True)
        rows.extend(module.run())
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
