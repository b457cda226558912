# The pipeline fixtures, for tests that need finished jobs and images.
from tests.generator.conftest import fake_gemini, make_job, ui_queue  # noqa: F401
