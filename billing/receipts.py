"""Receipts: what a charge bought, without billing importing generator.

Dependencies point generator → billing → accounts, so billing cannot query generations.
The generator app registers a lookup at ready() (generator/receipts.py) that turns a
ledger reference (a generation's public id) into a Receipt; the receipt page in billing
renders whatever the registered lookup returns, and only for the viewer's team.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pixdash.accounts.models import Team


@dataclass(frozen=True)
class ReceiptImage:
    url: str
    thumbnail_url: str
    width: int
    height: int


@dataclass(frozen=True)
class Receipt:
    reference: str
    prompt: str
    model: str
    status: str
    created_at: datetime
    requested: int
    delivered: int
    images: list[ReceiptImage] = field(default_factory=list)
    error: str = ""


Lookup = Callable[[str, Team], Receipt | None]
_lookups: list[Lookup] = []


def register(lookup: Lookup) -> None:
    """Called by an app's ready(); registering the same function twice is harmless."""
    if lookup not in _lookups:
        _lookups.append(lookup)


def find(reference: str, *, team: Team) -> Receipt | None:
    for lookup in _lookups:
        receipt = lookup(reference, team)
        if receipt is not None:
            return receipt
    return None
