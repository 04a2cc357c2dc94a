"""Wattics: the packet builders, the client, and the stream pusher against the emulator over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from integrations.http import USER_AGENT, UpstreamError
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattics import SANDBOX_PASSWORD, SANDBOX_USERNAME, WatticsEmulator
from integrations.wattics import (
    MEASUREMENTS_PATH,
    LastPacket,
    PushOutcome,
    StreamPusher,
    WatticsClient,
    electrical_packet,
    encode_packet,
    error_action,
    local_timestamp,
    value_packet,
)

CHICAGO = ZoneInfo("America/Chicago")
DUBLIN = ZoneInfo("Europe/Dublin")

# The seed's two examples, curly quotes straightened (seed 004, "JSON Packet Format").
SEED_ELECTRICAL_EXAMPLE = (
    '{"id":"yourMeterID","tsISO8601":"2017-12-01T12:00:00.000+00:00", "aP_1":123,"aP_2":123,'
    '"aP_3":123, "rP_1":123, "rP_2":123, "rP_3":123, "apP_1":123,"apP_2":123,"apP_3":123, '
    '"v_1":123,"v_2":123, "v_3":123, "c_1":123, "c_2":123,"c_3":123, "pC_1":123, "pC_2":123,'
    '"pC_3":123, "v_12":123, "v_13":123,"v_23":123\n}'
)
SEED_VALUE_EXAMPLE = '{"id":"yourMeterID","tsISO8601":"2017-12-01T12:00:00.000+00:00", "value":123}'


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def epoch_ms(instant: datetime) -> int:
    return int(instant.timestamp() * 1000)


# --- packet builders ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tz", "instants", "expected"),
    [
        (  # America/Chicago, autumn 2024: 01:00 local happens twice, CDT then CST.
            CHICAGO,
            [utc(2024, 11, 3, 5), utc(2024, 11, 3, 6), utc(2024, 11, 3, 7), utc(2024, 11, 3, 8)],
            [
                "2024-11-03T00:00:00.000-05:00",
                "2024-11-03T01:00:00.000-05:00",
                "2024-11-03T01:00:00.000-06:00",
                "2024-11-03T02:00:00.000-06:00",
            ],
        ),
        (  # America/Chicago, spring 2024: 02:00 local never happens.
            CHICAGO,
            [utc(2024, 3, 10, 7), utc(2024, 3, 10, 8)],
            ["2024-03-10T01:00:00.000-06:00", "2024-03-10T03:00:00.000-05:00"],
        ),
        (  # Europe/Dublin, spring 2024: GMT to IST, 01:00 local never happens.
            DUBLIN,
            [utc(2024, 3, 31, 0), utc(2024, 3, 31, 1)],
            ["2024-03-31T00:00:00.000+00:00", "2024-03-31T02:00:00.000+01:00"],
        ),
        (  # Europe/Dublin, autumn 2024: 01:00 local happens twice, IST then GMT.
            DUBLIN,
            [utc(2024, 10, 27, 0), utc(2024, 10, 27, 1), utc(2024, 10, 27, 2)],
            [
                "2024-10-27T01:00:00.000+01:00",
                "2024-10-27T01:00:00.000+00:00",
                "2024-10-27T02:00:00.000+00:00",
            ],
        ),
    ],
    ids=["chicago-autumn", "chicago-spring", "dublin-spring", "dublin-autumn"],
)
def test_it_writes_the_meters_local_time_with_its_offset_across_dst_changes(
    tz: ZoneInfo, instants: list[datetime], expected: list[str]
) -> None:
    assert [local_timestamp(instant, tz) for instant in instants] == expected


def test_it_writes_milliseconds_and_drops_finer_precision() -> None:
    instant = datetime(2024, 6, 1, 12, 0, 0, 123_999, tzinfo=UTC)

    assert local_timestamp(instant, DUBLIN) == "2024-06-01T13:00:00.123+01:00"


def test_it_takes_any_aware_instant_not_only_utc() -> None:
    instant = datetime(2024, 11, 3, 1, 30, tzinfo=CHICAGO, fold=1)  # the second 01:30, CST

    assert local_timestamp(instant, CHICAGO) == "2024-11-03T01:30:00.000-06:00"
    assert local_timestamp(instant, UTC) == "2024-11-03T07:30:00.000+00:00"


def test_it_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        local_timestamp(datetime(2024, 6, 1, 12), CHICAGO)


def test_it_refuses_an_offset_that_is_not_whole_minutes() -> None:
    # Dublin Mean Time, -00:25:21, cannot be written as +hh:mm.
    with pytest.raises(ValueError, match="cannot be written"):
        local_timestamp(utc(1900, 1, 1, 12), DUBLIN)


def test_it_builds_a_value_packet_equal_to_the_seeds_example() -> None:
    packet = value_packet("yourMeterID", utc(2017, 12, 1, 12), UTC, 123)

    assert packet == json.loads(SEED_VALUE_EXAMPLE)
    assert list(packet) == ["id", "tsISO8601", "value"]


def test_it_builds_an_electrical_packet_with_the_total_in_the_first_register() -> None:
    example = json.loads(SEED_ELECTRICAL_EXAMPLE)

    packet = electrical_packet("yourMeterID", utc(2017, 12, 1, 12), UTC, 123)

    assert packet == {key: example[key] for key in ("id", "tsISO8601", "pC_1")}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_it_refuses_a_value_that_is_not_a_finite_number(bad: float) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        value_packet("m1", utc(2024, 6, 1), UTC, bad)
    with pytest.raises(ValueError, match="not a finite number"):
        electrical_packet("m1", utc(2024, 6, 1), UTC, bad)


def test_it_encodes_a_packet_as_compact_json_on_one_line() -> None:
    packet = value_packet("meter\n7", utc(2024, 6, 1, 17), CHICAGO, 1.5)

    body = encode_packet(packet)

    assert body == b'{"id":"meter\\n7","tsISO8601":"2024-06-01T12:00:00.000-05:00","value":1.5}'
    assert b"\n" not in body
    assert json.loads(body) == packet


def test_it_refuses_to_encode_nan() -> None:
    with pytest.raises(ValueError):
        encode_packet({"id": "m1", "tsISO8601": "2024-06-01T12:00:00.000-05:00", "value": 1e400})


# --- client (MockTransport) ---------------------------------------------------------------------
def mock_client(handler: httpx.MockTransport) -> WatticsClient:
    return WatticsClient(
        "https://wattics.test/", username="partner", password="pa:ss", transport=handler
    )


def test_it_posts_one_packet_as_one_line_of_json_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="OK")

    packet = value_packet("m1", utc(2024, 6, 1, 17), CHICAGO, 0.75)
    with mock_client(httpx.MockTransport(handler)) as client:
        client.push_packet(packet)

    (request,) = seen
    assert (request.method, request.url.path) == ("POST", MEASUREMENTS_PATH)
    assert request.url.scheme == "https"
    assert (
        request.headers["authorization"] == "Basic " + base64.b64encode(b"partner:pa:ss").decode()
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.content == encode_packet(packet)


def test_it_reads_the_last_packet_and_none_when_wattics_has_none() -> None:
    last = {"id": "m1", "tsISO8601": "2024-06-01T12:00:00.000-05:00", "value": 1}
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        stream = request.url.params["stream"]
        asked.append(stream)
        return httpx.Response(200, json=last) if stream == "m1" else httpx.Response(404)

    with mock_client(httpx.MockTransport(handler)) as client:
        answer = client.last_packet("m1")
        assert (answer.packet, answer.instant, answer.note) == (last, utc(2024, 6, 1, 17), "")
        assert client.last_packet("m 2&x") == LastPacket()

    assert asked == ["m1", "m 2&x"]


def test_it_raises_wattics_errors_with_their_reason_and_retry_after() -> None:
    answers = iter(
        [
            httpx.Response(401, text="Unauthorized"),
            httpx.Response(503, text="Service Unavailable", headers={"Retry-After": "7"}),
        ]
    )
    packet = value_packet("m1", utc(2024, 6, 1), UTC, 1)

    with mock_client(httpx.MockTransport(lambda request: next(answers))) as client:
        with pytest.raises(UpstreamError) as unauthorized:
            client.push_packet(packet)
        with pytest.raises(UpstreamError) as unavailable:
            client.push_packet(packet)

    assert (unauthorized.value.status_code, unauthorized.value.permanent) == (401, True)
    assert unauthorized.value.message == "Unauthorized"
    assert (unavailable.value.permanent, unavailable.value.retry_after_s) == (False, 7.0)


def test_it_refuses_a_username_with_a_colon() -> None:
    with pytest.raises(ValueError, match="RFC 7617"):
        WatticsClient("https://wattics.test", username="a:b", password="c")


@pytest.mark.parametrize(
    ("status", "permanent", "action"),
    [
        (None, False, "retry_after_check"),  # timeout or lost connection: ask before resending
        (500, False, "retry_after_check"),
        (502, False, "retry_after_check"),
        (503, False, "retry"),
        (404, True, "retry"),  # not registered yet
        (429, False, "retry"),
        (400, True, "retry"),  # the guide: retry until 200; stopping would strand every packet
        (422, True, "retry"),
        (None, True, "retry_after_check"),
        (401, True, "stop"),  # the credentials: only a person can fix them
        (403, True, "stop"),
    ],
)
def test_it_decides_per_status_whether_to_retry_the_same_packet_or_stop(
    status: int | None, permanent: bool, action: str
) -> None:
    error = UpstreamError("x", permanent=permanent, status_code=status)

    assert error_action(error) == action


# --- pusher against the emulator over HTTP ----------------------------------------------------
@pytest.fixture(scope="module")
def served() -> Iterator[RunningEmulator]:
    # One server per module; each test starts from a reset emulator.
    with RunningEmulator(WatticsEmulator()) as running:
        yield running


@pytest.fixture
def wattics(served: RunningEmulator) -> WatticsEmulator:
    served.app.reset()
    assert isinstance(served.app, WatticsEmulator)
    return served.app


@pytest.fixture
def client(served: RunningEmulator, wattics: WatticsEmulator) -> Iterator[WatticsClient]:
    with WatticsClient(
        served.base_url, username=SANDBOX_USERNAME, password=SANDBOX_PASSWORD
    ) as wattics_client:
        yield wattics_client


class Sleeps(list[float]):
    """An injectable sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# A week of hours over Chicago's autumn change (a 25-hour Sunday), kWh varying by hour.
WEEK = [
    (utc(2024, 10, 31, 5) + timedelta(hours=hour), round(0.2 + (hour % 24) * 0.05, 3))
    for hour in range(168)
]


def week_instants_ms() -> list[int]:
    return [epoch_ms(instant) for instant, _ in WEEK]


def rows_after(cursor: datetime | None) -> list[tuple[datetime, float]]:
    return [row for row in WEEK if cursor is None or row[0] > cursor]


def posts(wattics: WatticsEmulator) -> list[int]:
    return [status for method, _, status in wattics.calls if method == "POST"]


def test_it_pushes_a_week_in_order_and_reports_each_acknowledgement(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    acks: list[datetime] = []
    pusher = StreamPusher(client, "m1", CHICAGO, "value", on_ack=lambda at, _: acks.append(at))

    result = pusher.push(WEEK)

    stream = wattics.state["streams"]["m1"]
    assert result.outcome is PushOutcome.DONE
    assert (result.acknowledged, result.late, result.failed_calls) == (168, [], 0)
    assert stream["instants_ms"] == week_instants_ms()
    assert stream["values"] == [value for _, value in WEEK]
    assert (stream["discarded"], wattics.state["refused"]) == (0, {})
    assert acks == [instant for instant, _ in WEEK]
    assert result.cursor == WEEK[-1][0]
    assert result.total_wh is None


def test_it_pushes_chicagos_repeated_autumn_hour_as_two_packets(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    night = [(utc(2024, 11, 3, 5) + timedelta(hours=h), 1.0) for h in range(4)]
    stamps: list[str] = []

    def read_back(at: datetime, _: float | None) -> None:
        stamps.append(client.last_packet("m1").packet["tsISO8601"])  # type: ignore[index]

    result = StreamPusher(client, "m1", CHICAGO, "value", on_ack=read_back).push(night)

    assert result.acknowledged == 4
    assert stamps == [
        "2024-11-03T00:00:00.000-05:00",
        "2024-11-03T01:00:00.000-05:00",
        "2024-11-03T01:00:00.000-06:00",
        "2024-11-03T02:00:00.000-06:00",
    ]
    assert wattics.state["streams"]["m1"]["discarded"] == 0


def test_it_continues_the_register_from_the_given_total(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    totals: list[float | None] = []
    pusher = StreamPusher(
        client,
        "e1",
        CHICAGO,
        "electrical",
        cursor=WEEK[0][0],
        total_wh=5000.0,
        on_ack=lambda _, total_wh: totals.append(total_wh),
    )

    result = pusher.push(WEEK[1:4])

    expected = [5000.0 + 250.0, 5000.0 + 250.0 + 300.0, 5000.0 + 250.0 + 300.0 + 350.0]
    assert wattics.state["streams"]["e1"]["values"] == expected
    assert totals == expected
    assert result.total_wh == expected[-1]


def test_it_keeps_the_register_exact_over_a_year_of_small_intervals() -> None:
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["pC_1"])
        return httpx.Response(200, text="OK")

    year = [(utc(2024, 1, 1) + timedelta(hours=h), 0.1) for h in range(8760)]
    pusher = StreamPusher(mock_client(httpx.MockTransport(handler)), "e1", UTC, "electrical")

    pusher.push(year)

    # A float running sum of 0.1 kWh drifts (0.1 + 0.1 + 0.1 != 0.3); the register must not.
    assert sent[2] == 300.0
    assert sent[-1] == 876_000.0
    assert pusher.total_wh == 876_000.0


def test_it_rides_out_a_503_storm_without_loss_or_reordering(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    def storm_after_fifty(at: datetime, _: float | None) -> None:
        if at == WEEK[49][0]:
            wattics.faults.fail_next = 7

    sleeps = Sleeps()
    pusher = StreamPusher(
        client, "m1", CHICAGO, "value", on_ack=storm_after_fifty, sleep=sleeps, max_attempts=8
    )

    result = pusher.push(WEEK)

    stream = wattics.state["streams"]["m1"]
    assert result.outcome is PushOutcome.DONE
    assert (result.acknowledged, result.failed_calls) == (168, 7)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # capped exponential backoff
    assert posts(wattics).count(503) == 7
    assert stream["instants_ms"] == week_instants_ms()
    assert stream["discarded"] == 0


def test_it_gives_up_after_its_attempts_and_the_next_push_leaves_no_hole(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    persisted: list[datetime] = []

    def outage_after_fifty(at: datetime, _: float | None) -> None:
        persisted.append(at)
        if at == WEEK[49][0]:
            wattics.faults.fail_next = 100

    sleeps = Sleeps()
    first = StreamPusher(
        client, "m1", CHICAGO, "value", on_ack=outage_after_fifty, sleep=sleeps, max_attempts=4
    ).push(WEEK)
    wattics.faults.fail_next = 0  # the outage ends; Celery runs the task again
    second = StreamPusher(client, "m1", CHICAGO, "value", cursor=persisted[-1]).push(
        rows_after(persisted[-1])
    )

    assert first.outcome is PushOutcome.RETRY_LATER
    assert (first.cursor, first.status_code, first.acknowledged) == (WEEK[49][0], 503, 50)
    assert "Service Unavailable" in first.error
    assert sleeps == [0.5, 1.0, 2.0]  # no sleep after the last attempt
    assert second.outcome is PushOutcome.DONE
    stream = wattics.state["streams"]["m1"]
    assert stream["instants_ms"] == week_instants_ms()
    assert stream["discarded"] == 0


def test_it_honours_retry_after_and_leaves_long_pauses_to_the_caller(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    wattics.faults.fail_next, wattics.faults.retry_after = 1, 3
    sleeps = Sleeps()
    short = StreamPusher(client, "m1", CHICAGO, "value", sleep=sleeps).push(WEEK[:1])

    wattics.faults.fail_next, wattics.faults.retry_after = 1, 60
    long = StreamPusher(client, "m1", CHICAGO, "value", cursor=WEEK[0][0], sleep=sleeps).push(
        WEEK[1:2]
    )

    assert short.outcome is PushOutcome.DONE
    assert sleeps == [3.0]  # Retry-After beats the 0.5 s first backoff; none for the long one
    assert (long.outcome, long.retry_after_s, long.cursor) == (
        PushOutcome.RETRY_LATER,
        60.0,
        WEEK[0][0],
    )


def test_it_stops_on_bad_credentials_without_retrying_or_skipping(
    served: RunningEmulator, wattics: WatticsEmulator
) -> None:
    sleeps = Sleeps()
    with WatticsClient(served.base_url, username=SANDBOX_USERNAME, password="old") as stale:
        result = StreamPusher(stale, "m1", CHICAGO, "value", sleep=sleeps).push(WEEK)

    assert (result.outcome, result.status_code, result.cursor) == (PushOutcome.STOPPED, 401, None)
    assert result.error == "401: Unauthorized"
    assert (result.acknowledged, result.failed_calls, sleeps) == (0, 1, [])
    assert posts(wattics) == [401]


def test_it_retries_a_refused_packet_until_wattics_takes_it_without_skipping_it(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    def refuse_the_eleventh_twice(at: datetime, _: float | None) -> None:
        if at == WEEK[9][0]:
            wattics.faults.fail_next, wattics.faults.status = 2, 400

    sleeps = Sleeps()
    result = StreamPusher(
        client, "m1", CHICAGO, "value", on_ack=refuse_the_eleventh_twice, sleep=sleeps
    ).push(WEEK)

    assert (result.outcome, result.acknowledged, result.failed_calls) == (PushOutcome.DONE, 168, 2)
    assert posts(wattics)[:13] == [200] * 10 + [400, 400, 200]
    assert sleeps == [0.5, 1.0]
    assert wattics.state["streams"]["m1"]["instants_ms"] == week_instants_ms()


def test_it_retries_a_404_until_the_stream_is_registered(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    wattics.register_streams([], strict=True)

    def register_on_second_pause(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            wattics.register_streams(["m1"])

    sleeps: list[float] = []
    result = StreamPusher(client, "m1", CHICAGO, "value", sleep=register_on_second_pause).push(
        WEEK[:3]
    )

    assert result.outcome is PushOutcome.DONE
    assert posts(wattics) == [404, 404, 200, 200, 200]
    assert wattics.state["streams"]["m1"]["instants_ms"] == week_instants_ms()[:3]


def test_it_resumes_after_a_lost_answer_and_a_crash_without_duplicate_or_hole(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    persisted: list[tuple[datetime, float | None]] = []

    def persist(at: datetime, total_wh: float | None) -> None:
        persisted.append((at, total_wh))
        if at == WEEK[99][0]:
            wattics.drop_after_next = 1  # the 101st packet goes through, its answer does not

    crashed = StreamPusher(
        client, "e1", CHICAGO, "electrical", on_ack=persist, max_attempts=1
    ).push(WEEK)
    cursor, total_wh = persisted[-1]
    restarted = StreamPusher(client, "e1", CHICAGO, "electrical", cursor=cursor, total_wh=total_wh)
    resumed_at = restarted.resume()
    finished = restarted.push(rows_after(resumed_at))

    assert crashed.outcome is PushOutcome.RETRY_LATER
    assert (cursor, resumed_at) == (WEEK[99][0], WEEK[100][0])
    assert finished.outcome is PushOutcome.DONE
    assert finished.late == []
    stream = wattics.state["streams"]["e1"]
    assert stream["instants_ms"] == week_instants_ms()
    assert stream["discarded"] == 0
    mwh = [round(value * 1_000_000) for _, value in WEEK]
    registers = [sum(mwh[: i + 1]) / 1000 for i in range(len(WEEK))]
    assert stream["values"] == registers  # continuous: the register resumed from Wattics' pC_1


def test_it_asks_wattics_before_resending_a_packet_whose_answer_was_lost(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    def lose_the_answer_after_fifty(at: datetime, _: float | None) -> None:
        if at == WEEK[49][0]:
            wattics.drop_after_next = 1

    sleeps = Sleeps()
    result = StreamPusher(
        client, "m1", CHICAGO, "value", on_ack=lose_the_answer_after_fifty, sleep=sleeps
    ).push(WEEK)

    assert result.outcome is PushOutcome.DONE
    assert (result.acknowledged, result.failed_calls, sleeps) == (168, 1, [0.5])
    assert [method for method, _, _ in wattics.calls].count("GET") == 1
    stream = wattics.state["streams"]["m1"]
    assert stream["instants_ms"] == week_instants_ms()
    assert stream["discarded"] == 0


def test_it_reports_rows_at_or_before_the_cursor_as_late_and_never_sends_them(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    StreamPusher(client, "m1", CHICAGO, "value").push(WEEK[:24])
    posts_before = len(posts(wattics))

    # A corrected upload covering hours 10-30: Wattics already has up to hour 23.
    result = StreamPusher(client, "m1", CHICAGO, "value", cursor=WEEK[23][0]).push(WEEK[10:31])

    assert result.late == [instant for instant, _ in WEEK[10:24]]
    assert result.acknowledged == 7
    assert len(posts(wattics)) - posts_before == 7
    assert wattics.state["streams"]["m1"]["instants_ms"] == week_instants_ms()[:31]
    assert wattics.state["streams"]["m1"]["discarded"] == 0


def test_it_stops_at_a_reading_it_cannot_send_without_skipping_it(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    rows = [*WEEK[:3], (WEEK[3][0], float("nan")), *WEEK[4:6]]
    value = StreamPusher(client, "m1", CHICAGO, "value").push(rows)
    negative = [*WEEK[:2], (WEEK[2][0], -0.5)]
    electrical = StreamPusher(client, "e1", CHICAGO, "electrical").push(negative)

    assert (value.outcome, value.cursor) == (PushOutcome.STOPPED, WEEK[2][0])
    assert "not a finite number" in value.error
    assert (electrical.outcome, electrical.cursor) == (PushOutcome.STOPPED, WEEK[1][0])
    assert "cannot fall" in electrical.error
    assert wattics.state["streams"]["m1"]["accepted"] == 3
    assert wattics.state["streams"]["e1"]["accepted"] == 2


def test_it_keeps_its_own_cursor_when_wattics_has_nothing_or_an_earlier_packet(
    client: WatticsClient, wattics: WatticsEmulator
) -> None:
    # Our cursor is the last packet Wattics answered 200 to: the authority
    # (docs/upstreams/wattics.md). Going back would resend what Wattics discards.
    pusher = StreamPusher(client, "e1", CHICAGO, "electrical", cursor=WEEK[5][0], total_wh=900.0)
    assert pusher.resume() == WEEK[5][0]
    assert (pusher.cursor, pusher.total_wh) == (WEEK[5][0], 900.0)

    StreamPusher(client, "e1", CHICAGO, "electrical").push(WEEK[:2])
    assert pusher.resume() == WEEK[5][0]
    assert (pusher.cursor, pusher.total_wh) == (WEEK[5][0], 900.0)


def test_each_packet_call_says_which_reading_it_carried() -> None:
    from integrations.clients import CallLog

    log = CallLog()
    packet = value_packet("m1", utc(2024, 6, 1, 17), CHICAGO, 0.75)
    with mock_client(httpx.MockTransport(lambda request: httpx.Response(200))) as client:
        client.on_call = log
        client.push_packet(packet)
        client.push_packet(value_packet("m1", utc(2024, 6, 1, 18), CHICAGO, 0.5))
    assert [note for _, note in log.calls] == [
        f"the reading of {packet['tsISO8601']}",
        "the reading of 2024-06-01T13:00:00.000-05:00",
    ]
