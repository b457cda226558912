"""pixdash.core.outbound: calls to user-chosen URLs never reach private addresses unless
the operator allows it, never follow redirects, and are bounded in time and size."""

import gzip
import socket

import pytest

from pixdash.core import outbound
from tests.receiver import Receiver, Reply


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def private_allowed(settings):
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = True


@pytest.fixture
def private_refused(settings):
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = False


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.4/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://224.0.0.1/hook",
    ],
)
def test_private_address_literals_are_refused_before_any_call(private_refused, url):
    with pytest.raises(outbound.UnsafeUrl):
        outbound.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "https://user:secret@example.com/hook",
        "https:///nohost",
        "https://exa mple.com/",
        "https://example.com:99999/",
        "https://example.com/" + "x" * 3000,
        "",
        'https://f\udbec\udd79\u00c9"\u00cd',
        "https://\u008f\u008a>",
        "https://exa\u0010mple.com/",
    ],
)
def test_other_unsafe_urls_are_refused(private_refused, url):
    with pytest.raises(outbound.UnsafeUrl):
        outbound.check_url(url)


def test_a_public_https_url_passes_the_check(private_refused):
    assert outbound.check_url("https://hooks.example.com/pixdash") == (
        "https://hooks.example.com/pixdash"
    )


def test_a_host_name_resolving_to_loopback_is_refused_at_connect_time(
    private_refused, receiver, settings
):
    # "localhost" passes the URL check (it is a name); the address it resolves to does not.
    with pytest.raises(outbound.UnsafeUrl):
        outbound.request("POST", f"https://localhost:{receiver.port}/hook", content=b"{}")
    assert receiver.received == []


def test_the_address_checked_is_the_address_connected_to(private_refused, receiver, monkeypatch):
    """A DNS answer that turns private between a check and the connection (rebinding)
    cannot slip through: resolution and the check happen in the connection itself."""
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example.com":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(outbound.UnsafeUrl):
        outbound.request("GET", f"https://rebind.example.com:{receiver.port}/hook")
    assert receiver.received == []


def test_with_private_allowed_a_call_goes_through(private_allowed, receiver):
    response = outbound.request(
        "POST", receiver.url(), content=b'{"a": 1}', headers={"Content-Type": "application/json"}
    )

    assert response.status == 200 and response.ok
    assert response.body == b"ok"
    assert response.elapsed_ms >= 0
    (got,) = receiver.received
    assert got.method == "POST" and got.body == b'{"a": 1}'
    assert got.headers["User-Agent"] == "Pixdash"


def test_redirects_are_returned_not_followed(private_allowed, receiver):
    receiver.replies["/hook"] = Reply(302, headers={"Location": receiver.url("/elsewhere")})

    response = outbound.request("POST", receiver.url(), content=b"{}")

    assert response.status == 302 and not response.ok
    assert [r.path for r in receiver.received] == ["/hook"]


def test_a_slow_answer_times_out(private_allowed, receiver):
    receiver.replies["/hook"] = Reply(delay=2)

    with pytest.raises(outbound.OutboundError) as raised:
        outbound.request("POST", receiver.url(), content=b"{}", timeout=0.5)
    assert raised.value.kind == "timeout"


def test_a_body_dripped_byte_by_byte_is_cut_at_the_deadline(private_allowed, receiver):
    receiver.replies["/img"] = Reply(body=b"x" * 100, drip=0.1)

    with pytest.raises(outbound.OutboundError) as raised:
        outbound.request("GET", receiver.url("/img"), timeout=1, body_required=True)
    assert raised.value.kind == "timeout"


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_cap_is_refused_when_needed(private_allowed, receiver, chunked):
    receiver.replies["/img"] = Reply(body=b"x" * 5000, chunked=chunked)

    with pytest.raises(outbound.OutboundError) as raised:
        outbound.request("GET", receiver.url("/img"), max_bytes=1000, body_required=True)
    assert raised.value.kind == "too_large"


def test_a_body_over_the_cap_is_cut_when_not_needed(private_allowed, receiver):
    receiver.replies["/hook"] = Reply(body=b"x" * 5000)

    response = outbound.request("POST", receiver.url(), content=b"{}", max_bytes=1000)

    assert response.ok and len(response.body) == 1000


def test_compressed_bodies_are_refused_not_inflated(private_allowed, receiver):
    bomb = gzip.compress(b"\0" * 10_000_000)
    receiver.replies["/img"] = Reply(body=bomb, headers={"Content-Encoding": "gzip"})

    with pytest.raises(outbound.OutboundError) as raised:
        outbound.request("GET", receiver.url("/img"), body_required=True)
    assert raised.value.kind == "encoding"
    assert receiver.received[0].headers["Accept-Encoding"] == "identity"


def test_a_closed_port_is_a_connection_error(private_allowed):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends

    with pytest.raises(outbound.OutboundError) as raised:
        outbound.request("GET", f"http://127.0.0.1:{port}/")
    assert raised.value.kind == "connect"


def test_proxy_settings_in_the_environment_are_ignored(private_allowed, receiver, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")

    assert outbound.request("POST", receiver.url(), content=b"{}").ok
