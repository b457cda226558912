from pixdash.accounts.models import Team
from pixdash.accounts.teams import current_membership

# Which main-menu entry a page belongs to, by its URL name's start (first match wins).
_SECTIONS = [
    ("home", "generate"),
    ("generate", "generate"),
    ("job", "generate"),
    ("compare", "generate"),
    ("gallery", "gallery"),
    ("image", "gallery"),
    ("activity", "activity"),
    ("models", "models"),
    ("team", "team"),
    ("member", "team"),
    ("invitation", "team"),
    ("key", "keys"),
    ("webhook", "keys"),  # the developers' pages: API keys and webhooks
    ("billing", "billing"),
]


def _section(request) -> str:
    match = getattr(request, "resolver_match", None)
    name = (match.url_name or "") if match else ""
    if "team_slug" not in (match.kwargs if match else {}):
        return ""
    return next((section for start, section in _SECTIONS if name.startswith(start)), "")


def _my_teams(request, user) -> list[Team]:
    known = getattr(request, "memberships", None)
    if known is not None:  # read by team_required already
        return [membership.team for membership in known]
    return list(Team.objects.filter(memberships__user=user).order_by("name"))


def current_team(request):
    """The navigation's team and the team switcher's data.

    On a team page (see access.py) that is the URL's team; on pages without one (your
    teams, password change, staff pages) the team used last, so the menu still leads
    somewhere.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    if membership is not None:
        context = {"membership": membership, "team": membership.team}
    else:
        membership = current_membership(user)
        context = {}
    return {
        **context,
        "nav_team": membership.team if membership else None,
        "nav_section": _section(request),
        "my_teams": _my_teams(request, user),
    }
