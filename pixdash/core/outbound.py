"""Outbound HTTP to addresses our users choose: webhook deliveries and image URLs in JSON
edits. The one place such a call is made, so the SSRF rules hold for every caller:

- only ``https`` URLs (``http`` too when PIXDASH_OUTBOUND_ALLOW_PRIVATE is on), no
  credentials in the URL;
- never a private, loopback, link-local, shared, multicast or reserved address unless the
  operator sets PIXDASH_OUTBOUND_ALLOW_PRIVATE=1 (tests, private installs). The check is
  made on the resolved address at connect time, and the connection goes to the address
  that was checked, so a DNS answer that changes between check and use (rebinding) gains
  nothing; TLS is still verified against the host name;
- redirects are never followed, proxies from the environment are ignored;
- short timeouts and an overall deadline, and bodies read only up to a cap, never
  decompressed (we ask for ``identity`` and refuse anything else).

Provider calls do not come here: their base URLs are the operator's, not our users'
(generator/providers/http.py).
"""

import functools
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

MAX_URL_LENGTH = 2048
USER_AGENT = "Pixdash"


class OutboundError(Exception):
    """A call that could not be made or completed. ``message`` is safe to show the user:
    it never repeats what the remote end sent."""

    def __init__(self, message: str, *, kind: str):
        super().__init__(message)
        self.message, self.kind = message, kind


class UnsafeUrl(OutboundError):
    def __init__(self, message: str):
        super().__init__(message, kind="unsafe_url")


class _BlockedAddress(Exception):
    """Raised inside the connection pool; turned into UnsafeUrl by _send()."""


def private_allowed() -> bool:
    return settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str) -> str:
    """Refuse a URL we would never call, before anything is sent (the address of a host
    name is checked again at connect time). Returns the URL."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"A URL of at most {MAX_URL_LENGTH} characters is needed.")
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # what the client will parse: IDNA host names, printable characters
    except (ValueError, UnicodeError, httpx.InvalidURL):
        raise UnsafeUrl("The URL is malformed.") from None
    schemes = ("https", "http") if private_allowed() else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("Only https URLs are allowed.")
    if not parts.hostname or any(c.isspace() for c in url):
        raise UnsafeUrl("The URL needs a host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("Credentials in the URL are not allowed.")
    if port == 0:
        raise UnsafeUrl("The URL's port is invalid.")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if not private_allowed() and not _public(literal):
        raise UnsafeUrl("Private, loopback and link-local addresses are not allowed.")
    return url


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, keeps only the addresses allowed, and connects to those:
    the address checked is the address used."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"could not resolve {host}") from error
        addresses = []
        for *_, sockaddr in found:
            address = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if (private_allowed() or _public(address)) and str(address) not in addresses:
                addresses.append(str(address))
        if not addresses:
            raise _BlockedAddress(host)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        raise last_error


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle is most of what a new client costs; once per process.
    return httpx.create_ssl_context()


def _client(timeout: float) -> httpx.Client:
    transport = httpx.HTTPTransport(verify=_tls_context(), trust_env=False)
    # httpx has no public hook for the network backend; its pool is rebuilt around ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_tls_context(),
        max_connections=4,
        max_keepalive_connections=0,
        network_backend=_GuardedBackend(),
    )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    elapsed_ms: int
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def request(
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    max_bytes: int = 64 * 1024,
    body_required: bool = False,
) -> Response:
    """Make one call under the rules above; the body is read up to ``max_bytes``.

    Raises OutboundError (kind ``unsafe_url``, ``timeout``, ``connect``, ``too_large``,
    ``encoding``). A non-2xx answer, a redirect included, is returned, not raised. With
    ``body_required`` a body larger than ``max_bytes`` is an error; without it, the rest
    is simply not read (a webhook receiver's reply is not needed).
    """
    check_url(url)
    started = time.monotonic()
    deadline = started + timeout
    try:
        with (
            _client(timeout) as client,
            client.stream(method, url, content=content, headers=headers) as response,
        ):
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if body_required and encoding not in ("", "identity"):
                raise OutboundError("Compressed responses are not accepted.", kind="encoding")
            declared = response.headers.get("content-length", "")
            if body_required and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(max_bytes)
            body = _read_capped(response, max_bytes, deadline, body_required=body_required)
            return Response(
                status=response.status_code,
                body=body,
                elapsed_ms=int((time.monotonic() - started) * 1000),
                content_type=response.headers.get("content-type", ""),
            )
    except _BlockedAddress:
        raise UnsafeUrl("The host resolves to a private or otherwise disallowed address.") from None
    except httpx.TimeoutException:
        raise OutboundError(f"No answer within {timeout:g} seconds.", kind="timeout") from None
    except (httpx.HTTPError, httpx.InvalidURL, httpcore.ConnectError, OSError):
        raise OutboundError("The connection failed.", kind="connect") from None


def _read_capped(response: httpx.Response, max_bytes: int, deadline: float, *, body_required):
    chunks, size = [], 0
    for chunk in response.iter_raw():
        size += len(chunk)
        if size > max_bytes:
            if body_required:
                raise _too_large(max_bytes)
            chunks.append(chunk[: max_bytes - (size - len(chunk))])
            break
        chunks.append(chunk)
        if time.monotonic() > deadline:
            # A server dripping bytes resets the read timeout with each one.
            raise httpx.ReadTimeout("overall deadline passed")
    return b"".join(chunks)


def _too_large(max_bytes: int) -> OutboundError:
    size = f"{max_bytes // 2**20} MB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
    return OutboundError(f"The response is larger than {size}.", kind="too_large")
