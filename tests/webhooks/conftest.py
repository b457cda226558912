"""Webhook fixtures: a real receiver on 127.0.0.1 (loopback allowed for these tests), the
Celery queue replaced by a recorder, and jobs run through the real pipeline."""

import json
from dataclasses import dataclass, field

import pytest
import standardwebhooks

from generator import jobs
from generator.models import Generation, Source
from tests.generator.conftest import ScriptedProvider, fake_gemini  # noqa: F401
from tests.receiver import Receiver
from webhooks import endpoints


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def receiver(settings):
    settings.PIXDASH_OUTBOUND_ALLOW_PRIVATE = True
    with Receiver() as running:
        yield running


@dataclass
class Queued:
    """What would have gone to the broker, by task."""

    runs: list[int] = field(default_factory=list)
    announcements: list[int] = field(default_factory=list)
    sends: list[tuple[int, float | None]] = field(default_factory=list)


@pytest.fixture
def queued(monkeypatch) -> Queued:
    from generator import tasks as generator_tasks
    from webhooks import tasks as webhook_tasks

    recorded = Queued()
    monkeypatch.setattr(
        generator_tasks.run_generation,
        "apply_async",
        lambda args=None, **_: recorded.runs.extend(args),
    )
    monkeypatch.setattr(
        webhook_tasks.announce_task,
        "apply_async",
        lambda args=None, kwargs=None, **_: recorded.announcements.extend(args),
    )

    def send(args=None, countdown=None, **_):
        recorded.sends.append((args[0], countdown))

    monkeypatch.setattr(webhook_tasks.send_delivery, "apply_async", send)
    monkeypatch.setattr(webhook_tasks.send_delivery, "delay", lambda pk: send(args=[pk]))
    return recorded


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run on_commit callbacks as a real commit would (tests run inside a transaction)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def submit_job(queued, fake_gemini, committed):  # noqa: F811
    """Submit as ``person`` through the real pipeline; run it like the worker unless told."""

    def submit(person, *, key=None, callback_url=None, n=1, run=True, is_async=True):
        spec = jobs.GenerationSpec(
            model="nano-banana", prompt="a fox", n=n, callback_url=callback_url
        )
        generation = jobs.submit(
            team=person.team,
            spec=spec,
            source=Source.API,
            is_async=is_async,
            api_key=key.api_key if key else None,
        ).generation
        if run:
            queued.runs.remove(generation.pk)
            with committed():
                jobs.run(generation_id=generation.pk)
        return Generation.objects.get(pk=generation.pk)

    return submit


@pytest.fixture
def make_endpoint(receiver):
    def make(person, *, path="/hook", events=("task.completed", "task.failed", "task.canceled")):
        return endpoints.create_endpoint(
            team=person.team, url=receiver.url(path), events=list(events), created_by=person.user
        )

    return make


def verified(secret: str, received) -> dict:
    """The body of a delivery, verified as a receiver would with the standardwebhooks
    package (an implementation independent of ours)."""
    return standardwebhooks.Webhook(secret).verify(received.body, received.headers)


def body_of(received) -> dict:
    return json.loads(received.body)
