"""The Wattics emulator over real HTTP: it must enforce the contract the client is tested against.

Raw httpx calls on purpose: these tests send bodies our client would never build.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattics import (
    MEASUREMENTS_PATH,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    WatticsEmulator,
)

AUTH = (SANDBOX_USERNAME, SANDBOX_PASSWORD)


@pytest.fixture(scope="module")
def served() -> Iterator[RunningEmulator]:
    # One server per module; each test starts from a reset emulator.
    with RunningEmulator(WatticsEmulator()) as running:
        yield running


@pytest.fixture
def server(served: RunningEmulator) -> RunningEmulator:
    served.app.reset()
    return served


@pytest.fixture
def wattics(server: RunningEmulator) -> WatticsEmulator:
    assert isinstance(server.app, WatticsEmulator)
    return server.app


@pytest.fixture
def http(server: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, auth=AUTH, timeout=5) as client:
        yield client


def post(http: httpx.Client, body: str | bytes, **kwargs: object) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": "application/json"}
    return http.post(MEASUREMENTS_PATH, content=content, headers=headers, **kwargs)


def packet(
    ts: str = "2024-06-01T12:00:00.000-05:00", stream: str = "m1", **measures: object
) -> str:
    return json.dumps({"id": stream, "tsISO8601": ts, **(measures or {"value": 1.5})})


# --- accepted packets -----------------------------------------------------------------------------
def test_it_accepts_a_value_packet_and_returns_it_as_the_last_packet(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    response = post(http, packet(value=2.25))

    assert response.status_code == 200
    last = http.get(MEASUREMENTS_PATH, params={"stream": "m1"})
    assert last.status_code == 200
    assert last.json() == {"id": "m1", "tsISO8601": "2024-06-01T12:00:00.000-05:00", "value": 2.25}
    stream = wattics.state["streams"]["m1"]
    assert (stream["format"], stream["accepted"], stream["discarded"]) == ("value", 1, 0)
    assert stream["values"] == [2.25]
    assert stream["instants_ms"] == [1717261200000]  # 17:00Z


def test_it_accepts_the_seeds_electrical_example_and_any_subset_of_it(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    # The seed's example, curly quotes straightened, every parameter at 123.
    keys = ["aP", "rP", "apP", "v", "c", "pC"]
    full = {f"{key}_{phase}": 123 for key in keys for phase in (1, 2, 3)}
    full |= {"v_12": 123, "v_13": 123, "v_23": 123}

    first = post(http, packet("2017-12-01T12:00:00.000+00:00", **full))
    subset = post(http, packet("2017-12-01T12:15:00.000+00:00", pC_1=130.5))

    assert (first.status_code, subset.status_code) == (200, 200)
    stream = wattics.state["streams"]["m1"]
    assert (stream["format"], stream["accepted"]) == ("electrical", 2)
    assert stream["values"] == [123, 130.5]  # pC_1, the register


# --- authentication --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + "c2FuZGJveC13YXR0aWNzOndyb25n"},  # sandbox-wattics:wrong
        {"Authorization": "Basic " + "bm9ib2R5OnNhbmRib3gtd2F0dGljcy1wYXNzd29yZA=="},  # nobody:…
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer sandbox-wattics-password"},
    ],
    ids=["missing", "wrong-password", "unknown-user", "garbled", "not-basic"],
)
def test_it_refuses_bad_credentials_with_a_text_401(
    server: RunningEmulator, wattics: WatticsEmulator, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5) as anonymous:
        pushed = anonymous.post(MEASUREMENTS_PATH, content=packet(), headers=headers)
        read = anonymous.get(MEASUREMENTS_PATH, params={"stream": "m1"}, headers=headers)

    for response in (pushed, read):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "Unauthorized"
        assert response.headers["www-authenticate"].startswith("Basic")
    assert wattics.state["streams"] == {}
    assert wattics.state["refused"] == {"401": 2}


def test_it_accepts_credentials_added_for_an_organization(
    server: RunningEmulator, wattics: WatticsEmulator
) -> None:
    with httpx.Client(base_url=server.base_url, auth=("org-7", "s3cret:with:colons")) as org:
        before = org.post(MEASUREMENTS_PATH, content=packet())
        wattics.add_credentials("org-7", "s3cret:with:colons")
        after = org.post(MEASUREMENTS_PATH, content=packet())

    assert (before.status_code, after.status_code) == (401, 200)


# --- 400: the body ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "[" + packet() + "]",
        packet() + "\n" + packet("2024-06-01T13:00:00.000-05:00"),
        packet() + packet("2024-06-01T13:00:00.000-05:00"),
        packet() + " trailing",
        packet() + "\n",
        json.dumps(json.loads(packet()), indent=1),
        "",
        "not json",
        '{"id":"m1","tsISO8601":"2024-06-01T12:00:00.000-05:00","value":1,"value":2}',
        b'{"id":"m\xff","tsISO8601":"2024-06-01T12:00:00.000-05:00","value":1}',
    ],
    ids=[
        "array",
        "two-lines",
        "two-objects",
        "trailing-garbage",
        "trailing-newline",
        "pretty-printed",
        "empty",
        "not-json",
        "duplicate-key",
        "not-utf8",
    ],
)
def test_it_refuses_a_body_that_is_not_one_json_object_on_one_line(
    http: httpx.Client, wattics: WatticsEmulator, body: str | bytes
) -> None:
    response = post(http, body)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert wattics.state["streams"] == {}


# --- 400: the packet -------------------------------------------------------------------------------
TS = "2024-06-01T12:00:00.000-05:00"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "m1", "tsISO8601": TS, "kwh": 1}, "unknown parameter(s): kwh"),
        ({"id": "m1", "tsISO8601": TS, "value": 1, "pC_1": 1}, "cannot be mixed"),
        ({"id": "m1", "tsISO8601": TS, "value": "1.5"}, "value must be a number"),
        ({"id": "m1", "tsISO8601": TS, "pC_1": True}, "pC_1 must be a number"),
        ({"id": "m1", "tsISO8601": TS, "value": None}, "value must be a number"),
        ({"id": "m1", "tsISO8601": TS, "aP_1": [1]}, "aP_1 must be a number"),
        ({"tsISO8601": TS, "value": 1}, "id (the data stream id"),
        ({"id": "", "tsISO8601": TS, "value": 1}, "id (the data stream id"),
        ({"id": 42, "tsISO8601": TS, "value": 1}, "id (the data stream id"),
        ({"id": "m1", "value": 1}, "tsISO8601 is missing"),
        ({"id": "m1", "tsISO8601": TS}, "no measurement"),
        ({"id": "m1", "tsISO8601": "2024-06-01T12:00:00.000", "value": 1}, "is not yyyy"),
        ({"id": "m1", "tsISO8601": "2024-06-01T17:00:00.000Z", "value": 1}, "is not yyyy"),
        ({"id": "m1", "tsISO8601": "2024-06-01T12:00:00-05:00", "value": 1}, "is not yyyy"),
        ({"id": "m1", "tsISO8601": "2024-06-01 12:00:00.000-05:00", "value": 1}, "is not yyyy"),
        ({"id": "m1", "tsISO8601": "2024-06-01T12:00:00.000-0500", "value": 1}, "is not yyyy"),
        ({"id": "m1", "tsISO8601": "2024-02-30T12:00:00.000-05:00", "value": 1}, "not a valid"),
        ({"id": "m1", "tsISO8601": "2024-06-01T12:00:00.000+15:00", "value": 1}, "no valid UTC"),
        ({"id": "m1", "tsISO8601": 1717261200, "value": 1}, "is not yyyy"),
    ],
    ids=[
        "unknown-key",
        "value-and-electrical",
        "string-value",
        "boolean",
        "null",
        "array-value",
        "missing-id",
        "empty-id",
        "numeric-id",
        "missing-timestamp",
        "no-measurement",
        "no-offset",
        "zulu",
        "no-milliseconds",
        "space-separator",
        "offset-without-colon",
        "impossible-date",
        "offset-out-of-range",
        "epoch-number",
    ],
)
def test_it_refuses_an_invalid_packet_with_400_and_a_message(
    http: httpx.Client, wattics: WatticsEmulator, body: dict[str, object], message: str
) -> None:
    response = post(http, json.dumps(body))

    assert response.status_code == 400
    assert message in response.text
    assert wattics.state["streams"] == {}
    assert wattics.state["refused"] == {"400": 1}


def test_it_refuses_nan_which_is_not_json(http: httpx.Client, wattics: WatticsEmulator) -> None:
    response = post(http, '{"id":"m1","tsISO8601":"2024-06-01T12:00:00.000-05:00","value":NaN}')

    assert response.status_code == 400
    assert "NaN is not a number" in response.text


def test_it_refuses_a_stream_switching_between_packet_formats(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    assert post(http, packet("2024-06-01T12:00:00.000-05:00", value=1)).status_code == 200

    response = post(http, packet("2024-06-01T13:00:00.000-05:00", pC_1=1))

    assert response.status_code == 400
    assert "takes value packets" in response.text
    assert wattics.state["streams"]["m1"]["accepted"] == 1


# --- order -----------------------------------------------------------------------------------------
def test_it_discards_and_counts_a_packet_not_later_than_the_last_accepted_one(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    assert post(http, packet("2024-06-01T12:00:00.000-05:00", value=1)).status_code == 200

    same = post(http, packet("2024-06-01T12:00:00.000-05:00", value=2))
    # 18:00+01:00 is 17:00Z, the very same instant written with another offset.
    same_instant = post(http, packet("2024-06-01T18:00:00.000+01:00", value=3))
    earlier = post(http, packet("2024-06-01T11:59:59.999-05:00", value=4))

    # Answered like an acceptance (the platform does not tell), hence the count.
    assert [r.status_code for r in (same, same_instant, earlier)] == [200, 200, 200]
    stream = wattics.state["streams"]["m1"]
    assert (stream["accepted"], stream["discarded"], stream["values"]) == (1, 3, [1])
    assert http.get(MEASUREMENTS_PATH, params={"stream": "m1"}).json()["value"] == 1


def test_it_orders_packets_by_instant_not_by_local_time(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    # America/Chicago, 2024-11-03: local 01:30 happens twice; the second one is an hour later.
    first = post(http, packet("2024-11-03T01:30:00.000-05:00", value=1))
    repeated = post(http, packet("2024-11-03T01:00:00.000-06:00", value=2))
    back_in_time = post(http, packet("2024-11-03T01:45:00.000-05:00", value=3))

    assert [r.status_code for r in (first, repeated, back_in_time)] == [200, 200, 200]
    stream = wattics.state["streams"]["m1"]
    assert (stream["accepted"], stream["discarded"], stream["values"]) == (2, 1, [1, 2])


def test_it_keeps_the_order_of_each_stream_apart(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    post(http, packet("2024-06-01T12:00:00.000-05:00", stream="a"))
    response = post(http, packet("2024-06-01T11:00:00.000-05:00", stream="b"))

    assert response.status_code == 200
    assert wattics.state["streams"]["b"]["accepted"] == 1
    assert wattics.state["streams"]["a"]["discarded"] == 0


# --- the last packet and registered streams -------------------------------------------------------
def test_it_answers_404_for_the_last_packet_of_a_stream_without_packets(
    http: httpx.Client,
) -> None:
    response = http.get(MEASUREMENTS_PATH, params={"stream": "never-pushed"})

    assert response.status_code == 404
    assert "never-pushed" in response.text


def test_it_answers_400_for_the_last_packet_without_a_stream(http: httpx.Client) -> None:
    assert http.get(MEASUREMENTS_PATH).status_code == 400


@pytest.mark.parametrize(
    ("answer", "status", "content_type", "check"),
    [
        ("empty", 200, "application/json", lambda body: body == b""),
        ("null", 200, "application/json", lambda body: json.loads(body) is None),
        ("empty_object", 200, "application/json", lambda body: json.loads(body) == {}),
        ("empty_array", 200, "application/json", lambda body: json.loads(body) == []),
        ("not_found", 404, "text/plain", lambda body: b"m1" in body),
        ("html", 200, "text/html", lambda body: body.startswith(b"<!doctype html>")),
        ("string", 200, "application/json", lambda body: json.loads(body) == "OK"),
        ("number", 200, "application/json", lambda body: json.loads(body) == 42),
        ("garbage", 200, "application/json", lambda body: body.endswith(b'"tsISO8601": ')),
        (
            "list",
            200,
            "application/json",
            lambda body: json.loads(body)[0]["tsISO8601"] == "2024-06-01T12:00:00.000-05:00",
        ),
        (
            "no_timestamp",
            200,
            "application/json",
            lambda body: json.loads(body) == {"id": "m1", "value": 1.5},
        ),
        (
            "odd_timestamp",
            200,
            "application/json",
            lambda body: json.loads(body)["tsISO8601"] == "2024-06-01T17:00:00Z",
        ),
    ],
)
def test_it_answers_the_last_packet_with_the_odd_shape_it_is_told_to(
    http: httpx.Client,
    wattics: WatticsEmulator,
    answer: str,
    status: int,
    content_type: str,
    check: Callable[[bytes], bool],
) -> None:
    assert post(http, packet()).status_code == 200
    control = http.post("/_sandbox/faults", json={"last_packet_answer": answer})

    odd = http.get(MEASUREMENTS_PATH, params={"stream": "m1"})
    http.post("/_sandbox/faults", json={"last_packet_answer": ""})
    normal = http.get(MEASUREMENTS_PATH, params={"stream": "m1"})

    assert control.status_code == 200
    assert odd.status_code == status
    assert odd.headers["content-type"].startswith(content_type)
    assert check(odd.content)
    assert normal.json() == json.loads(packet())
    assert wattics.state["streams"]["m1"]["accepted"] == 1  # a GET changes nothing


def test_it_refuses_an_odd_last_packet_answer_it_does_not_know(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    response = http.post("/_sandbox/faults", json={"last_packet_answer": "teapot"})

    assert response.status_code == 400
    assert wattics.last_packet_answer == ""


def test_it_still_asks_for_credentials_before_an_odd_last_packet_answer(
    server: RunningEmulator, wattics: WatticsEmulator
) -> None:
    wattics.last_packet_answer = "empty"

    response = httpx.get(f"{server.base_url}{MEASUREMENTS_PATH}", params={"stream": "m1"})

    assert response.status_code == 401


def test_it_refuses_unregistered_streams_in_strict_mode(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    assert post(http, packet(stream="free")).status_code == 200  # sandbox default: any id
    control = http.post("/_sandbox/streams", json={"register": ["known"], "strict": True})

    unknown = post(http, packet("2024-06-01T13:00:00.000-05:00", stream="unknown"))
    known = post(http, packet("2024-06-01T13:00:00.000-05:00", stream="known"))

    assert control.json() == {"known_streams": ["known"]}
    assert (unknown.status_code, known.status_code) == (404, 200)
    assert "unknown" not in wattics.state["streams"]


def test_it_starts_strict_when_asked() -> None:
    wattics = WatticsEmulator(strict_streams=True)
    wattics.register_streams(["m1"])

    with pytest.raises(AssertionError):
        push_hours(wattics, range(1), stream="m2")
    push_hours(wattics, range(1), stream="m1")

    assert wattics.state["refused"] == {"404": 1}
    assert list(wattics.state["streams"]) == ["m1"]


# --- faults ----------------------------------------------------------------------------------------
def test_it_fails_the_next_calls_with_the_injected_status_then_recovers(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    http.post("/_sandbox/faults", json={"fail_next": 2, "status": 503, "retry_after": 1})

    failed = [post(http, packet()) for _ in range(2)]
    passed = post(http, packet())

    assert [r.status_code for r in failed] == [503, 503]
    assert failed[0].headers["retry-after"] == "1"
    assert failed[0].text == "Service Unavailable"
    assert passed.status_code == 200
    assert wattics.state["streams"]["m1"]["accepted"] == 1


def test_it_drops_the_connection_after_processing_when_asked(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    control = http.post("/_sandbox/faults", json={"drop_after_next": 1, "latency_ms": 1})
    armed = wattics.drop_after_next

    with pytest.raises(httpx.TransportError):
        post(http, packet())
    again = post(http, packet())

    assert (control.json()["latency_ms"], armed) == (1, 1)  # the base took its keys too
    assert again.status_code == 200
    # The lost answer hid an acceptance: sending the same packet again was a discard.
    stream = wattics.state["streams"]["m1"]
    assert (stream["accepted"], stream["discarded"]) == (1, 1)


def test_it_drops_the_connection_before_processing_with_drop_next(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    http.post("/_sandbox/faults", json={"drop_next": 1})

    with pytest.raises(httpx.TransportError):
        post(http, packet())

    assert wattics.state["streams"] == {}


def test_it_forgets_packets_and_faults_on_reset(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    post(http, packet())
    http.post("/_sandbox/faults", json={"drop_after_next": 3, "last_packet_answer": "html"})

    http.post("/_sandbox/reset")

    assert wattics.state["streams"] == {}
    assert wattics.drop_after_next == 0
    assert wattics.last_packet_answer == ""
    assert post(http, packet()).status_code == 200


def test_it_keeps_one_connection_per_keep_alive_client(
    http: httpx.Client, wattics: WatticsEmulator
) -> None:
    for minute in range(20):
        assert post(http, packet(f"2024-06-01T12:{minute:02d}:00.000-05:00")).status_code == 200

    assert len(wattics.peers) == 1


# --- persistence -----------------------------------------------------------------------------------
def push_hours(wattics: WatticsEmulator, hours: range, stream: str = "m1") -> None:
    for hour in hours:
        body = packet(f"2024-06-01T{hour:02d}:00:00.000+00:00", stream=stream, value=hour)
        request = httpx.Request("POST", f"http://sandbox{MEASUREMENTS_PATH}", content=body)
        with httpx.Client(transport=httpx.WSGITransport(app=wattics), auth=AUTH) as client:
            assert client.send(request).status_code == 200


def test_it_survives_a_restart_through_its_snapshot_and_journal(tmp_path: Path) -> None:
    state_path = tmp_path / "wattics.json"
    first = WatticsEmulator(state_path, snapshot_every=5)
    first.add_credentials("org-7", "pw")

    push_hours(first, range(12))  # two snapshots and a journal of two events
    restarted = WatticsEmulator(state_path, snapshot_every=5)

    assert restarted.state == first.state
    assert restarted.state["streams"]["m1"]["values"] == list(range(12))
    assert restarted.state["credentials"]["org-7"] == "pw"
    assert len(state_path.with_name("wattics.json.journal").read_text().splitlines()) == 2


def test_it_applies_no_journal_line_twice_after_a_crash_mid_snapshot(tmp_path: Path) -> None:
    state_path = tmp_path / "wattics.json"
    journal = state_path.with_name("wattics.json.journal")
    wattics = WatticsEmulator(state_path, snapshot_every=5)
    push_hours(wattics, range(4))  # four journal lines, no snapshot since the start
    stale_journal = tmp_path / "stale"
    shutil.copy(journal, stale_journal)
    push_hours(wattics, range(4, 5))  # the fifth event writes the snapshot, empties the journal

    shutil.copy(stale_journal, journal)  # as if the crash came before the journal was emptied
    restarted = WatticsEmulator(state_path, snapshot_every=5)

    assert restarted.state["streams"]["m1"]["values"] == [0, 1, 2, 3, 4]
    assert restarted.state["streams"]["m1"]["accepted"] == 5


def test_it_keeps_what_preceded_a_journal_line_torn_by_a_crash(tmp_path: Path) -> None:
    state_path = tmp_path / "wattics.json"
    journal = state_path.with_name("wattics.json.journal")
    push_hours(WatticsEmulator(state_path), range(3))
    with journal.open("a") as torn:
        torn.write('[4,"accept","m1","value",1717')  # the crash hit mid-line

    restarted = WatticsEmulator(state_path)
    push_hours(restarted, range(3, 5))  # must not be appended after the torn line and lost
    again = WatticsEmulator(state_path)

    assert again.state["streams"]["m1"]["values"] == [0, 1, 2, 3, 4]


def test_it_takes_the_packets_another_process_journaled(tmp_path: Path) -> None:
    state_path = tmp_path / "wattics.json"
    make_run = WatticsEmulator(state_path)
    command = WatticsEmulator(state_path)  # e.g. a manage.py command beside `make run`

    push_hours(make_run, range(3))
    push_hours(command, range(3, 5))  # numbered after hours 0-2 only if it reloads first
    push_hours(make_run, range(5, 6))

    assert make_run.state["streams"]["m1"]["values"] == [0, 1, 2, 3, 4, 5]
    assert WatticsEmulator(state_path).state["streams"]["m1"]["values"] == [0, 1, 2, 3, 4, 5]


def test_it_keeps_no_journal_without_a_state_path() -> None:
    wattics = WatticsEmulator()

    push_hours(wattics, range(3))

    assert wattics.journal_path is None
    assert wattics._pending == []  # a year of packets must not pile up in memory for nothing
    assert wattics.state["journal_seq"] == 3
