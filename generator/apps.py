from django.apps import AppConfig


class GeneratorConfig(AppConfig):
    name = "generator"
    verbose_name = "Image generation"

    def ready(self) -> None:
        from billing import receipts
        from generator import receipts as generation_receipts

        # Billing's receipt page shows what a charge bought (see billing/receipts.py).
        receipts.register(generation_receipts.lookup, generation_receipts.lookup_many)
