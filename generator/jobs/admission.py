"""Fair share between teams: a cap on each team's jobs in flight (submitted or running).

One team queueing hundreds of jobs (say, a new account rendering free previews in a loop)
would otherwise fill every worker and push every other team's jobs behind its own.
admit() runs inside jobs.submit()'s transaction right after the credit hold, whose UPDATE
locks the team's credit account: concurrent submissions of one team count one after the
other, so the cap is exact. One COUNT on a partial index of the jobs in flight.
"""

from django.conf import settings

from generator.jobs.errors import TooManyJobsInFlight
from generator.models import IN_FLIGHT, Generation
from pixdash.accounts.models import Team

# What a refused client is told to wait: about one short job.
RETRY_AFTER_SECONDS = 10


def admit(team: Team) -> None:
    """Raise TooManyJobsInFlight if ``team`` now has more jobs in flight than allowed (the
    job being submitted counts: call after creating it, inside its transaction)."""
    cap = settings.PIXDASH_TEAM_MAX_JOBS_IN_FLIGHT
    if Generation.objects.filter(team=team, status__in=IN_FLIGHT).count() > cap:
        raise TooManyJobsInFlight(
            f"Your team already has {cap} generations queued or running. Wait for some to "
            "finish, then try again.",
            retry_after=RETRY_AFTER_SECONDS,
        )
