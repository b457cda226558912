from django.apps import AppConfig


class GeneratorConfig(AppConfig):
    name = "generator"
    verbose_name = "Image generation"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from billing import receipts
        from generator import receipts as generation_receipts
        from generator.models import ImageModel

        # Billing's receipt page shows what a charge bought (see billing/receipts.py).
        receipts.register(generation_receipts.lookup, generation_receipts.lookup_many)
        # This process sees its own catalog edits at once; others within the cache's TTL.
        for signal in (post_save, post_delete):
            signal.connect(_catalog_changed, sender=ImageModel, dispatch_uid=f"catalog-{signal}")


def _catalog_changed(**_kwargs) -> None:
    from generator import catalog

    catalog.invalidate()
