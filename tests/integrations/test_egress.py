"""The egress policy: an organization admin's addresses never reach the portal's own network, and
a stored secret is only sent to the address it was entered for (integrations/egress.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations import services
from integrations.egress import GuardedTransport, check_url, is_public_address
from integrations.http import UpstreamError
from integrations.models import Connection
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL
from integrations.spark import SparkClient
from integrations.wattcarbon import WattCarbonClient


class Listener:
    """A TCP port on the loopback that counts the connections made to it (and answers none)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


INTERNAL = [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:5432/",
    "http://localhost:6379",
    "http://10.0.0.5/",
    "http://[::1]:8000/",
    "https://192.168.1.1/",
    "https://evil.example.com/",
    "http://api.wattcarbon.com/",  # a published host, but not over https
    "https://user:pw@api.wattcarbon.com/",
    "ftp://api.wattcarbon.com/",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_it_refuses_addresses_that_are_not_published_or_allowed(url: str) -> None:
    with pytest.raises(ValueError):
        check_url("wattcarbon", url)


def test_it_accepts_the_published_hosts_and_the_operators_origins(settings) -> None:
    check_url("wattcarbon", "https://api.wattcarbon.com")
    check_url("spark", "https://api.sandbox.voluespark.com/energy-coordination/v1")
    check_url("spark", "https://auth.identity.volue.com/connect/token")
    check_url("wattics", "https://web-collector.wattics.com/measurements/v2/unifiedjson/")
    with pytest.raises(ValueError):
        check_url("wattshift", "https://api.wattcarbon.com")  # another platform's host
    settings.UPSTREAM_ALLOWED_ORIGINS = ["http://127.0.0.1:9000"]
    check_url("wattshift", "http://127.0.0.1:9000/v1")
    with pytest.raises(ValueError):
        check_url("wattshift", "http://127.0.0.1:9001/")  # exactly as written: not another port


def test_it_knows_internal_addresses() -> None:
    for address in (
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "::ffff:10.0.0.1",
    ):
        assert not is_public_address(address), address
    assert is_public_address("93.184.216.34")


def test_the_form_refuses_an_internal_base_url_without_calling_it(
    admin_client_, org, listener
) -> None:
    response = admin_client_.post(
        reverse("connection_edit", args=["wattcarbon"]),
        {"base_url": f"{listener.url}/?", "enabled": "on", "username": "a@b.c", "password": "k"},
    )
    assert response.status_code == 200
    assert "not an address this portal may call" in response.content.decode()
    assert not Connection.objects.filter(organization=org).exists()
    assert listener.accepted == 0


def test_the_form_refuses_an_internal_spark_token_url(admin_client_, org, listener) -> None:
    response = admin_client_.post(
        reverse("connection_edit", args=["spark"]),
        {"token_url": listener.url, "enabled": "on", "username": "id", "password": "secret"},
    )
    assert "not an address this portal may call" in response.content.decode()
    assert not Connection.objects.filter(organization=org).exists()


def test_connect_refuses_an_internal_base_url(org, listener) -> None:
    with pytest.raises(CommandError, match="not an address this portal may call"):
        call_command(
            "connect",
            "--org=acme",
            "--platform=wattics",
            f"--base-url={listener.url}",
            "--username=u",
            "--password=p",
        )
    assert listener.accepted == 0


def test_the_client_itself_opens_no_socket_to_a_refused_address(listener) -> None:
    client = WattCarbonClient(listener.url, email="a@b.c", api_key="k")
    with client, pytest.raises(UpstreamError, match="Not sent") as caught:
        client.create_token()
    assert not caught.value.permanent  # a person fixes the address; nothing is given up
    assert listener.accepted == 0


def test_an_allowed_origin_is_called(settings, listener) -> None:
    settings.UPSTREAM_ALLOWED_ORIGINS = [listener.url]
    client = WattCarbonClient(listener.url, email="a@b.c", api_key="k")
    with client, pytest.raises(UpstreamError, match="after the request went out"):
        client.create_token()  # the listener hangs up: but the socket was opened
    assert listener.accepted >= 1


def test_a_published_host_that_resolves_inside_is_refused_at_connect(monkeypatch) -> None:
    """A DNS change cannot make a published name reach the portal's own network."""
    opened: list[tuple] = []
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))
        ],
    )
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: opened.append(a))
    client = SparkClient(
        "https://api.voluespark.com/energy-coordination/v1",
        token_url="https://auth.identity.volue.com/connect/token",
        client_id="id",
        client_secret="secret",
    )
    with client, pytest.raises(UpstreamError, match="internal address"):
        client.access_token()
    assert opened == []


def test_the_transport_refuses_a_request_to_another_origin(listener) -> None:
    """Even a redirect or an absolute URL built by a client cannot leave the allowed origins."""
    http = httpx.Client(transport=GuardedTransport("wattcarbon"))
    with http, pytest.raises(httpx.ConnectError, match="not an address"):
        http.get(f"{listener.url}/")
    assert listener.accepted == 0


def test_a_connection_saved_before_the_policy_is_refused_when_tested(
    admin_client_, org, listener
) -> None:
    connection = services.save_connection(
        Connection(organization=org, platform="wattcarbon"), username="a@b.c", password="k"
    )
    Connection.objects.filter(pk=connection.pk).update(base_url=listener.url)  # an old row
    response = admin_client_.post(reverse("connection_test", args=["wattcarbon"]), follow=True)
    assert "Not sent" in response.content.decode()
    assert listener.accepted == 0


# --- credentials follow their host -------------------------------------------------------------


@pytest.fixture
def stored(org, settings) -> Connection:
    settings.UPSTREAM_ALLOWED_ORIGINS = ["http://127.0.0.1:9000", "http://127.0.0.1:9001"]
    return services.save_connection(
        Connection(organization=org, platform="wattcarbon", base_url="http://127.0.0.1:9000"),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )


def test_it_keeps_the_secret_when_only_the_path_changes(stored) -> None:
    stored.base_url = "http://127.0.0.1:9000/v2"
    services.save_connection(stored)
    stored.refresh_from_db()
    assert stored.credentials == {"username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY}


def test_a_new_host_needs_the_credentials_again(stored) -> None:
    stored.base_url = "http://127.0.0.1:9001"
    with pytest.raises(ValidationError) as caught:
        services.save_connection(stored)
    assert set(caught.value.message_dict) == {"username", "password"}
    stored.refresh_from_db()
    assert stored.base_url == "http://127.0.0.1:9000"  # nothing saved


def test_a_new_host_replaces_the_whole_credential_pair(stored) -> None:
    stored.base_url = "http://127.0.0.1:9001"
    services.save_connection(stored, username="new@b.c", password="new-key")
    stored.refresh_from_db()
    assert stored.credentials == {"username": "new@b.c", "password": "new-key"}


def test_the_form_asks_for_credentials_when_the_host_changes(admin_client_, stored) -> None:
    url = reverse("connection_edit", args=["wattcarbon"])
    response = admin_client_.post(
        url, {"base_url": "http://127.0.0.1:9001", "enabled": "on", "username": "", "password": ""}
    )
    assert response.status_code == 200
    assert "stored credentials were not kept" in response.content.decode()
    stored.refresh_from_db()
    assert stored.base_url == "http://127.0.0.1:9000"
    assert stored.credentials["password"] == SANDBOX_API_KEY


def test_a_new_spark_token_url_needs_the_secret_again(org, settings) -> None:
    settings.UPSTREAM_ALLOWED_ORIGINS = ["http://127.0.0.1:9000", "http://127.0.0.1:9001"]
    connection = services.save_connection(
        Connection(organization=org, platform="spark", token_url="http://127.0.0.1:9000/token"),
        username="client",
        password="secret",
    )
    connection.token_url = "http://127.0.0.1:9001/token"
    with pytest.raises(ValidationError):
        services.save_connection(connection)


# --- Spark's token URL --------------------------------------------------------------------------


def test_the_default_spark_token_url_is_the_seeds(settings) -> None:
    from portal import settings as portal_settings

    assert portal_settings.SPARK_TOKEN_URL == "https://auth.identity.volue.com/connect/token"
    connection = Connection(platform="spark")
    assert connection.effective_token_url == settings.SPARK_TOKEN_URL


def test_connect_stores_a_spark_token_url_and_the_page_shows_it(
    org, settings, admin_client_
) -> None:
    call_command(
        "connect",
        "--org=acme",
        "--platform=spark",
        "--base-url=https://api.sandbox.voluespark.com/energy-coordination/v1",
        "--token-url=https://auth.identity.volue.com/connect/token?tenant=x",
        "--username=client",
        "--password=secret",
    )
    connection = Connection.objects.get(organization=org, platform="spark")
    assert connection.token_url == "https://auth.identity.volue.com/connect/token?tenant=x"
    page = admin_client_.get(reverse("integrations")).content.decode()
    assert "https://auth.identity.volue.com/connect/token?tenant=x" in page
    with pytest.raises(CommandError, match="Only Spark"):
        call_command(
            "connect", "--org=acme", "--platform=wattshift", "--token-url=https://x", "--api-key=k"
        )


# --- what a user is shown of an error answer ----------------------------------------------------


def test_an_unreadable_error_body_is_described_not_shown() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            500, text="-ERR internal-secret-value", headers={"Content-Type": "text/plain"}
        )

    client = WattCarbonClient(
        "https://api.wattcarbon.com",
        email="a@b.c",
        api_key="k",
        transport=httpx.MockTransport(answer),
    )
    with client, pytest.raises(UpstreamError) as caught:
        client.create_token()
    assert "internal-secret-value" not in str(caught.value)
    assert str(caught.value) == "500: Internal Server Error"
