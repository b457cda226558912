"""Billing fixtures: the generator's scripted provider, and a helper that runs a
generation through the real pipeline (submit → hold → jobs.run → settle)."""

from pathlib import Path
from unittest import mock

import pytest

from generator import jobs, tasks
from generator.models import Generation, Source
from tests.generator.conftest import ScriptedProvider, fake_gemini  # noqa: F401


@pytest.fixture(autouse=True)
def _media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def run_job(fake_gemini):  # noqa: F811
    """Submit as ``person`` (optionally with an API key) and run the job to the end."""

    def run(
        person, *, n=1, model="nano-banana", api_key=None, user=True, end_user=None
    ) -> Generation:
        with mock.patch.object(tasks.run_generation, "apply_async"):
            generation = jobs.submit(
                team=person.team,
                user=person.user if user else None,
                spec=jobs.GenerationSpec(
                    model=model, prompt="a fox in the snow", n=n, end_user=end_user
                ),
                source=Source.API if api_key else Source.UI,
                is_async=True,
                api_key=api_key,
            ).generation
        jobs.run(generation_id=generation.pk)
        generation.refresh_from_db()
        return generation

    return run


assert ScriptedProvider  # re-exported for tests that script failures
