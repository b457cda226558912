"""The receiver example in docs/api-guide.md works: it accepts what Pixdash sends and refuses
what it should, run from the document's own text."""

import re
import threading
from http.server import HTTPServer
from pathlib import Path

import pytest

from webhooks import deliveries, endpoints, signing
from webhooks.models import DeliveryStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"


@pytest.fixture
def example() -> dict:
    (code,) = re.findall(r"```python receiver\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {"__name__": "docs_receiver"}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


def test_its_verify_function_accepts_a_signed_body_and_refuses_tampering(example):
    verify = example["verify_pixdash_webhook"]
    secret, body = signing.new_secret(), b'{"type": "webhook.test", "data": {"id": "x"}}'
    headers = signing.headers(secret=secret, message_id="msg_1", body=body)

    assert verify(secret, headers, body)["type"] == "webhook.test"
    for bad_secret, bad_headers, bad_body in [
        (secret, headers, body + b" "),
        (signing.new_secret(), headers, body),
        (secret, {**headers, "webhook-timestamp": "1000"}, body),
        (secret, {}, body),
    ]:
        with pytest.raises(ValueError):
            verify(bad_secret, bad_headers, bad_body)


def test_its_server_takes_a_real_delivery(example, alice, settings):
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = True
    server = HTTPServer(("127.0.0.1", 0), example["Receiver"])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = endpoints.create_endpoint(
            team=alice.team,
            url=f"http://127.0.0.1:{server.server_address[1]}/",
            events=["task.completed"],
            created_by=alice.user,
        )
        example["SECRET"] = endpoint.secret
        delivery = deliveries.send_test(endpoint=endpoint)

        deliveries.attempt(delivery_id=delivery.pk)

        delivery.refresh_from_db()
        assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 204)
        example["SECRET"] = signing.new_secret()  # a receiver with another secret refuses
        again = deliveries.send_test(endpoint=endpoint)
        deliveries.attempt(delivery_id=again.pk)
        again.refresh_from_db()
        assert again.last_status_code == 400
    finally:
        server.shutdown()
        server.server_close()
