"""The benchmarks of bench/ still run: each module imports, and its tiny mode (BENCH_TINY=1) goes
end to end (throwaway database, worker or gunicorn, emulator, bare loop) and returns Rows.

Benches are not tests: nothing here looks at a figure. The tiny runs need PostgreSQL (COPY, a
throwaway database) and Redis (the worker's broker); without them they are skipped, saying why.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ("sync", "wattics", "load", "mv", "api", "greenbutton", "scale", "memory", "sweep")
LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/5"

RUN_TINY = """
import dataclasses, json, os, sys
sys.path.insert(0, os.getcwd())
import django
django.setup()
import importlib
rows = importlib.import_module("bench." + sys.argv[1]).run()
print(json.dumps([dataclasses.asdict(row) for row in rows]))
"""


@pytest.mark.parametrize("name", BENCHES)
def test_it_imports_the_bench_and_finds_its_run(name):
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.run)
    assert module.__doc__  # what is measured, against what, and the target


def _postgres_url() -> str | None:
    for url in (os.environ.get("BENCH_DATABASE_URL"), os.environ.get("DATABASE_URL")):
        if url and url.startswith(("postgres://", "postgresql://")):
            return url
    try:
        import psycopg

        psycopg.connect(LOCAL_POSTGRES, connect_timeout=2).close()
    except Exception:
        return None
    return LOCAL_POSTGRES


def _redis_url() -> str | None:
    url = os.environ.get("BENCH_BROKER_URL") or LOCAL_REDIS
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("sync", marks=pytest.mark.worker),
        pytest.param("wattics", marks=pytest.mark.worker),
        "load",
        "mv",
        "api",
        "greenbutton",
        "scale",
        pytest.param("memory", marks=pytest.mark.worker),
        "sweep",
    ],
)
def test_it_runs_the_tiny_mode_end_to_end(name):
    database_url, broker_url = _postgres_url(), _redis_url()
    if database_url is None:
        pytest.skip("the benches need PostgreSQL: set DATABASE_URL (or BENCH_DATABASE_URL)")
    if broker_url is None:
        pytest.skip(
            "the benches need Redis: set BENCH_BROKER_URL (default redis db 5 on 127.0.0.1)"
        )
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PYTEST")},
        "BENCH_TINY": "1",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "BENCH_BROKER_URL": broker_url,
    }
    env.pop("CELERY_BROKER_URL", None)  # the bench process queues through BENCH_BROKER_URL only
    completed = subprocess.run(
        [sys.executable, "-c", RUN_TINY, name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]
    rows = json.loads(completed.stdout.strip().splitlines()[-1])
    assert rows, completed.stdout[-2000:]
    assert {row["bench"] for row in rows} == {name}
    for row in rows:
        assert isinstance(row["measure"], str)
        assert isinstance(row["ours_s"], float | int)
        assert isinstance(row["baseline_s"], float | int)
