from __future__ import annotations

from pathlib import Path

from portal.management.commands.audit_dependencies import affected, pins


def test_it_reads_pins_from_the_lock_file(tmp_path: Path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# comment\ncelery[redis]==5.7.0\n    # via foo\ndjango==6.1.3 ; python_version >= '3.12'\n"
    )
    assert pins(lock) == [("celery", "5.7.0"), ("django", "6.1.3")]


def test_it_judges_a_pin_against_the_fixed_releases():
    vulnerability = {"id": "PYSEC-1", "fixed_in": ["6.1.2", "5.2.9"]}
    assert affected("6.1.1", "6.1.3", vulnerability)
    assert not affected("6.1.3", "6.1.3", vulnerability)
    assert affected("6.1.3", "6.1.3", {"id": "GHSA-x", "fixed_in": []})  # no fix yet
    assert not affected("7.0", "6.1.3", {"id": "GHSA-y", "fixed_in": []})
