from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting plumbing: health probes, metrics and log context."""

    name = "pixdash.core"
    label = "pixdash_core"

    def ready(self) -> None:
        from pixdash.core import observability

        # Celery tasks get the same log context as requests (task id, generation).
        observability.connect_celery_signals()
