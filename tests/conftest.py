"""The shared world: alice owns Acme (100 credits) and has an API key, bob is a member of
Acme, charlie owns Globex (100 credits). Tests name behaviour and include the other-team
case."""

import importlib
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from billing import ledger
from pixdash.accounts.keys import create_api_key
from pixdash.accounts.models import ApiKey, Membership, Role, Team, User
from pixdash.accounts.teams import sign_up
from pixdash.core import ratelimit
from tests.services import own_redis  # noqa: F401 - a redis-server of the test's own

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    user: User
    team: Team
    membership: Membership
    client: Client

    @property
    def prefix(self) -> str:
        """Where the pages of this person's team live: ``/t/<slug>``."""
        return f"/t/{self.team.slug}"

    def url(self, name: str, *args) -> str:
        """A page of this person's team, by URL name."""
        return reverse(name, args=[self.team.slug, *args])


def _person(email: str, name: str, team_name: str) -> Person:
    user = sign_up(email=email, password=PASSWORD, name=name)
    team = user.current_team
    team.name = team_name
    team.save()
    client = Client()
    client.force_login(user)
    return Person(user, team, Membership.objects.get(user=user, team=team), client)


STARTING_CREDITS = Decimal("100.00")


@pytest.fixture
def alice(db) -> Person:
    person = _person("alice@acme.test", "Alice", "Acme")
    ledger.credit(team=person.team, amount=STARTING_CREDITS, reason="test world")
    return person


@pytest.fixture
def charlie(db) -> Person:
    person = _person("charlie@globex.test", "Charlie", "Globex")
    ledger.credit(team=person.team, amount=STARTING_CREDITS, reason="test world")
    return person


@pytest.fixture
def bob(alice) -> Person:
    user = User.objects.create_user(email="bob@acme.test", password=PASSWORD, name="Bob")
    membership = Membership.objects.create(team=alice.team, user=user, role=Role.MEMBER)
    user.current_team = alice.team
    user.save()
    client = Client()
    client.force_login(user)
    return Person(user, alice.team, membership, client)


@dataclass
class Key:
    api_key: ApiKey
    raw: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw}"}


@pytest.fixture
def alice_key(alice) -> Key:
    return Key(*create_api_key(team=alice.team, created_by=alice.user, name="alice-backend"))


@pytest.fixture
def bob_key(bob) -> Key:
    return Key(*create_api_key(team=bob.team, created_by=bob.user, name="bob-script"))


@pytest.fixture
def charlie_key(charlie) -> Key:
    return Key(*create_api_key(team=charlie.team, created_by=charlie.user, name="globex"))


@pytest.fixture(autouse=True)
def _catalog_seeded(request):
    """Transactional tests flush every table, the seeded model catalog included; put it
    back for tests that use the database, as a fresh install would have it."""
    if not {"db", "transactional_db", "live_server"} & set(request.fixturenames):
        return
    request.getfixturevalue("db" if "db" in request.fixturenames else "transactional_db")
    from generator.models import ImageModel

    if not ImageModel.objects.exists():
        seed = importlib.import_module("generator.migrations.0002_seed_catalog").SEED
        for row in seed:
            ImageModel.objects.create(**row)


@pytest.fixture(autouse=True)
def _fresh_catalog():
    """Each test reads the catalog as its own database has it (tests roll back edits)."""
    from generator import catalog

    catalog.invalidate()
    yield
    catalog.invalidate()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows are keyed by primary keys, which SQLite reuses after each
    test's rollback: without this, the whole suite shares one window."""
    cache.clear()
    ratelimit.reset()
    yield
    cache.clear()
    ratelimit.reset()


# A real S3 endpoint (moto's server mode) for storage tests; see tests/s3.py.
from tests.s3 import moto_s3, s3_media  # noqa: E402,F401
