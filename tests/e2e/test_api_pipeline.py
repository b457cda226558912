"""A whole pipeline from docs/api-guide.md, with the official openai package against the live
ASGI server and a real Celery worker: quote, submit with a callback, receive a verified
webhook, cancel, list tasks, read usage by end user, roll a key without downtime, and an
edit sent as JSON."""

import base64
import io
import re
import time
from datetime import timedelta
from pathlib import Path

import openai
import pytest
from openai import OpenAI
from PIL import Image

from pixdash.accounts.keys import roll_api_key
from tests.e2e.conftest import start_web, start_worker
from tests.ledger_audit import assert_ledger_invariants
from tests.receiver import Receiver

pytestmark = pytest.mark.usefixtures("small_renders")

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-guide.md"
# Long enough that a cancel lands while the offline renderer works, short enough to wait.
RENDER_MS = "4000"


@pytest.fixture(scope="module")
def stack(django_db_setup, e2e_tmp):
    """Web and worker allowed to call 127.0.0.1 (the receiver), with a slow renderer."""
    env = {"PIXDASH_OUTBOUND_ALLOW_PRIVATE": "1", "PIXDASH_LOCAL_LATENCY_MS": RENDER_MS}
    web = start_web(e2e_tmp, **env)
    worker = start_worker(e2e_tmp, **env)
    yield web.extra["url"] + "/v1"
    worker.stop()
    web.stop()


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@pytest.fixture
def verify():
    (code,) = re.findall(r"```python receiver\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {"__name__": "docs_receiver"}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_pixdash_webhook"]


def client_for(api_url: str, raw_key: str) -> OpenAI:
    return OpenAI(base_url=api_url, api_key=raw_key, max_retries=0, timeout=60)


def wait_for_status(client, task_id: str, statuses: tuple[str, ...]) -> dict:
    deadline = time.monotonic() + 60
    task = client.get(f"/tasks/{task_id}", cast_to=object)
    while task["status"] not in statuses and time.monotonic() < deadline:
        time.sleep(0.25)
        task = client.get(f"/tasks/{task_id}", cast_to=object)
    return task


def test_a_developer_drives_the_pipeline_from_the_docs(
    stack, alice, alice_key, receiver, verify, transactional_db
):
    client = client_for(stack, alice_key.raw)

    quote = client.post(
        "/images/quote",
        cast_to=object,
        body={"model": "nano-banana", "prompt": "a lighthouse", "n": 1, "user": "shop-42"},
    )
    assert (quote["allowed"], quote["hold"], quote["reasons"]) == (True, "2.00", [])

    task = client.post(
        "/async/images/generations",
        cast_to=object,
        body={
            "model": "nano-banana",
            "prompt": "a lighthouse",
            "user": "shop-42",
            "callback_url": receiver.url("/pixdash/webhook"),
        },
        options={"headers": {"Idempotency-Key": "order-1234-hero"}},
    )
    assert task["status"] == "submitted"

    (delivery,) = receiver.wait_for(1, timeout=90)
    secret = client.get("/webhooks/default/secret", cast_to=object)["key"]
    event = verify(secret, delivery.headers, delivery.body)
    assert event["type"] == "task.completed"
    assert event["data"]["id"] == task["id"]
    assert event["data"]["usage"] == {"images": 1, "credits": "2.00"}

    with pytest.raises(openai.ConflictError) as finished:
        client.post(f"/tasks/{task['id']}/cancel", cast_to=object)
    assert finished.value.body["code"] == "task_finished"

    slow = client.post(
        "/async/images/generations",
        cast_to=object,
        body={
            "model": "nano-banana",
            "prompt": "a slow boat",
            "user": "shop-7",
            "callback_url": receiver.url("/pixdash/webhook"),
        },
    )
    wait_for_status(client, slow["id"], ("processing",))
    client.post(f"/tasks/{slow['id']}/cancel", cast_to=object)
    canceled = wait_for_status(client, slow["id"], ("canceled", "completed", "failed"))
    assert canceled["status"] == "canceled"
    assert canceled["usage"] == {"images": 0, "credits": "0.00"}
    second = receiver.wait_for(2, timeout=90)[1]
    assert verify(secret, second.headers, second.body)["type"] == "task.canceled"

    listed = client.get("/tasks", cast_to=object, options={"params": {"limit": 1}})
    assert [t["id"] for t in listed["data"]] == [slow["id"]] and listed["has_more"]
    rest = client.get("/tasks", cast_to=object, options={"params": {"after": listed["last_id"]}})
    assert [t["id"] for t in rest["data"]] == [task["id"]]
    only_canceled = client.get("/tasks", cast_to=object, options={"params": {"status": "canceled"}})
    assert [t["id"] for t in only_canceled["data"]] == [slow["id"]]

    usage = client.get("/usage", cast_to=object, options={"params": {"group_by": "user"}})
    assert [(row["user"], row["credits"]) for row in usage["data"]] == [("shop-42", "2.00")]

    _successor, new_raw = roll_api_key(api_key=alice_key.api_key, grace=timedelta(hours=1))
    assert client.models.list().data  # the old key still works in its grace period
    assert client_for(stack, new_raw).models.list().data
    assert_ledger_invariants()


def test_an_edit_sent_as_json_through_the_sdk(stack, alice_key, transactional_db):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 120, 200)).save(buffer, "PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    result = client_for(stack, alice_key.raw).post(
        "/images/edits",
        cast_to=openai.types.ImagesResponse,
        body={
            "model": "nano-banana",
            "prompt": "make it warmer",
            "images": [{"image_url": data_url}],
        },
    )

    assert len(result.data) == 1 and result.data[0].url
