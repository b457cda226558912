"""usage.spending_since(): what the usage page's limit bars show counts what the limit
checks count — settled charges from the rollup and holds still open — per key and per
member (a key's calls count for the member who created it)."""

from decimal import Decimal

from billing import ledger, rollup, usage


def _spending(team, member=None):
    since = ledger.month_start()
    rows = usage.scope(team, member=member)
    start, end = usage.days_back(30)
    totals = usage.totals(rows, start=start, end=end, month_from=since.date())
    return usage.spending_since(team, totals, since=since, member=member)


def test_settled_and_open_spending_count_like_the_limit_checks(
    alice, bob, bob_key, run_job, django_assert_max_num_queries
):
    run_job(bob, n=2)  # 4 credits, settled, bob's browser job
    run_job(bob, n=1, api_key=bob_key.api_key, user=False)  # 2, settled, bob's key
    ledger.hold(team=alice.team, amount=Decimal(8), reference="open", api_key=bob_key.api_key)
    rollup.roll_up()  # the settlements' usage, folded as beat would have done

    # The roll-up's DELETE (nothing pending now), the rollup's totals, the open holds.
    with django_assert_max_num_queries(3):
        spent = _spending(alice.team)

    key = bob_key.api_key
    assert spent.by_key[key.pk] == ledger.spent_by_key_since(key, ledger.month_start()) == 10
    assert spent.by_member[bob.user.pk] == Decimal(14)
    assert spent.by_member[bob.user.pk] == ledger.spent_by_member_since(
        alice.team, bob.user, ledger.month_start()
    )
    assert spent.by_member[alice.user.pk] == 0


def test_the_usage_page_bar_includes_an_open_hold(alice, alice_key):
    alice_key.api_key.monthly_credit_limit = 10
    alice_key.api_key.save()
    ledger.hold(team=alice.team, amount=Decimal(9), reference="open", api_key=alice_key.api_key)
    html = alice.client.get(alice.url("billing_usage")).content.decode()
    assert 'aria-label="alice-backend this month"' in html
    assert 'aria-valuenow="90"' in html


def test_another_teams_spending_never_counts(alice, charlie, charlie_key, run_job):
    run_job(charlie, n=3, api_key=charlie_key.api_key, user=False)
    spent = _spending(alice.team)
    assert charlie_key.api_key.pk not in spent.by_key
    assert not any(spent.by_member.values())
