"""bench/fake_upstream.py answers in one TCP write with Nagle off (a keep-alive answer must
not wait for the client's delayed ACK), draws the pictures its prompt markers ask for, and
counts the connections it accepts."""

import base64
import io
import socket
import threading

import httpx
import pytest
from PIL import Image

from bench import fake_upstream

KEY = "test-key"


@pytest.fixture
def upstream():
    server = fake_upstream.make_server(fake_upstream.parse_args(["--port", "0", "--key", KEY]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", server
    server.shutdown()
    server.server_close()


class CountingWriter:
    def __init__(self, inner):
        self.inner, self.writes = inner, 0

    def write(self, data):
        self.writes += 1
        return self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_answer_leaves_in_one_write_with_nagle_off():
    handler_class = fake_upstream.bound_handler(fake_upstream.parse_args([]))
    seen = {}

    class Watched(handler_class):
        def setup(self):
            super().setup()
            seen["nodelay"] = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            self.wfile = seen["writer"] = CountingWriter(self.wfile)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        client.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        conn, address = listener.accept()
        with conn, client:
            Watched(conn, address, None)
            answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"\r\n\r\nok")
    assert seen["writer"].writes == 1
    assert seen["nodelay"]


def _generate(url: str, prompt: str, client: httpx.Client | None = None) -> bytes:
    if client is None:
        with httpx.Client() as own:
            return _generate(url, prompt, own)
    response = client.post(
        f"{url}/v1/images/generations",
        json={"model": "gpt-image-1.5", "prompt": prompt, "size": "1024x1024"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 200
    return base64.b64decode(response.json()["data"][0]["b64_json"])


def test_px_marker_answers_a_picture_that_size(upstream):
    url, _ = upstream
    image = Image.open(io.BytesIO(_generate(url, "a lighthouse [[px=64]]")))
    assert image.size == (64, 64)


def test_bytes_marker_answers_a_picture_about_that_heavy(upstream):
    url, _ = upstream
    data = _generate(url, "a lighthouse [[bytes=300000]]")
    assert 300_000 <= len(data) < 330_000
    assert Image.open(io.BytesIO(data)).size == (1024, 1024)


def test_stats_count_accepted_connections_not_requests(upstream):
    url, _ = upstream
    with httpx.Client() as client:
        before = client.get(f"{url}/stats").json().get("connections", 0)
        _generate(url, "one [[px=8]]", client)
        _generate(url, "two [[px=8]]", client)
        after_keep_alive = client.get(f"{url}/stats").json()["connections"]
    with httpx.Client() as other:
        _generate(url, "three [[px=8]]", other)
        after_new = other.get(f"{url}/stats").json()["connections"]
    assert after_keep_alive - before == 0  # the same connection as the first /stats
    assert after_new - after_keep_alive == 1
