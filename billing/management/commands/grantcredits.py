from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from billing import ledger
from pixdash.accounts.models import Team


class Command(BaseCommand):
    help = "Grant credits to a team, recorded in its ledger with the reason."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team slug")
        parser.add_argument("--credits", required=True, help="Credits to add, e.g. 100 or 12.50")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, team, credits, reason, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}")
        try:
            amount = Decimal(credits)
        except InvalidOperation:
            raise CommandError(f"--credits must be a number, got {credits!r}") from None
        if not reason.strip():
            raise CommandError("--reason must not be empty")
        try:
            ledger.credit(team=team_obj, amount=amount, reason=f"grantcredits: {reason}")
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{team_obj.slug}: balance {ledger.balance(team_obj):.2f} credits")
