"""GET /activity/: every generation of the team, browser and API, filterable by key,
status and source; members see their own and their keys'."""

from generator import activity
from generator.models import Source
from tests.generator.conftest import SAFETY_BLOCK


def _rows(html: str) -> int:
    return html.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") if "<tbody>" in html else 0


def test_it_lists_browser_and_api_generations_with_their_facts(
    alice, alice_key, make_job, fake_gemini
):
    browser = make_job(alice, prompt="from the page", n=2)
    api = make_job(alice, prompt="from code", source=Source.API, api_key=alice_key.api_key)
    html = alice.client.get(f"{alice.prefix}/activity/").content.decode()
    assert _rows(html) == 2
    assert "from the page" in html and "from code" in html
    assert "Key “alice-backend”" in html and "Alice" in html
    assert "2 of 2" in html
    assert f'href="{alice.prefix}/billing/receipts/{browser.public_id}/"' in html
    assert f'href="{alice.prefix}/compare/?g={api.pk}"' in html


def test_it_filters_by_key_status_and_source(alice, alice_key, make_job, fake_gemini):
    make_job(alice, prompt="page job")
    make_job(alice, prompt="key job", source=Source.API, api_key=alice_key.api_key)
    fake_gemini.script = lambda request: SAFETY_BLOCK
    make_job(alice, prompt="blocked job")
    url = f"{alice.prefix}/activity/"
    by_key = alice.client.get(url, {"key": alice_key.api_key.pk}).content.decode()
    assert "key job" in by_key and _rows(by_key) == 1
    failed = alice.client.get(url, {"status": "failed"}).content.decode()
    assert "blocked job" in failed and _rows(failed) == 1
    api = alice.client.get(url, {"source": "api"}).content.decode()
    assert _rows(api) == 1
    assert _rows(alice.client.get(url, {"key": "nonsense", "status": "??"}).content.decode()) == 3


def test_members_see_their_own_generations_and_keys(alice, bob, bob_key, make_job):
    make_job(alice, prompt="alice's")
    make_job(bob, prompt="bob's")
    make_job(alice, prompt="bob's key", source=Source.API, api_key=bob_key.api_key)
    html = bob.client.get(f"{bob.prefix}/activity/").content.decode()
    assert "bob&#x27;s" in html and "bob&#x27;s key" in html
    assert "alice&#x27;s" not in html
    assert _rows(alice.client.get(f"{alice.prefix}/activity/").content.decode()) == 3


def test_pages_follow_a_cursor(alice, make_job):
    jobs = [make_job(alice, prompt=f"job {i}") for i in range(3)]
    rows, cursor = activity.page(alice.team, activity.Filters(), size=2)
    assert [row.prompt for row in rows] == ["job 2", "job 1"] and cursor == jobs[1].pk
    rows, cursor = activity.page(alice.team, activity.Filters(), after=cursor, size=2)
    assert [row.prompt for row in rows] == ["job 0"] and cursor is None
    second = alice.client.get(f"{alice.prefix}/activity/", {"after": jobs[1].pk}).content.decode()
    assert "job 0" in second and _rows(second) == 1


def test_another_teams_generations_never_show(alice, charlie, make_job):
    job = make_job(alice, prompt="secret plan")
    html = charlie.client.get(f"{charlie.prefix}/activity/").content.decode()
    assert "secret plan" not in html
    html = charlie.client.get(f"{charlie.prefix}/activity/", {"after": job.pk}).content.decode()
    assert "secret plan" not in html
