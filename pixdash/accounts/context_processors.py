from pixdash.accounts.models import Team


def current_team(request):
    """The team switcher's data, for pages that resolved a membership (see access.py)."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "membership": membership,
        "team": membership.team,
        "my_teams": Team.objects.filter(memberships__user=request.user).order_by("name"),
    }
