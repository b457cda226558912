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
    model_name: str = ""  # how the catalog names the model, for people


Lookup = Callable[[str, Team], Receipt | None]
ManyLookup = Callable[[list[str], Team], dict[str, Receipt]]
_lookups: list[Lookup] = []
_many_lookups: list[ManyLookup] = []


def register(lookup: Lookup, many: ManyLookup | None = None) -> None:
    """Called by an app's ready(); registering the same functions twice is harmless.
    ``many`` answers several references in one go (a page of the ledger)."""
    if lookup not in _lookups:
        _lookups.append(lookup)
    if many is not None and many not in _many_lookups:
        _many_lookups.append(many)


def find(reference: str, *, team: Team) -> Receipt | None:
    for lookup in _lookups:
        receipt = lookup(reference, team)
        if receipt is not None:
            return receipt
    return None


def find_many(references: list[str], *, team: Team) -> dict[str, Receipt]:
    found: dict[str, Receipt] = {}
    for many in _many_lookups:
        found.update(many([r for r in references if r not in found], team))
    return found
