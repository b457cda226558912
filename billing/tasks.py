"""Billing's periodic work, run by Celery beat."""

from celery import shared_task

from billing import rollup


@shared_task
def roll_up_usage() -> int:
    """Fold settled usage into the daily rollup, so the events table stays small."""
    return rollup.roll_up()
