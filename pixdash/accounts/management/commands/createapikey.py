from django.core.management.base import BaseCommand, CommandError

from pixdash.accounts.keys import create_api_key
from pixdash.accounts.models import Team


class Command(BaseCommand):
    help = "Create an API key for a team; prints the key alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="Team slug")
        parser.add_argument("--name", required=True, help="Key name")

    def handle(self, *args, team, name, **options):
        team_obj = Team.objects.filter(slug=team).first()
        if team_obj is None:
            raise CommandError(f"No team with slug {team!r}")
        if not name.strip():
            raise CommandError("--name must not be empty")
        api_key, raw_key = create_api_key(team=team_obj, created_by=None, name=name.strip())
        self.stderr.write(f"Created key {api_key.prefix}… for {team_obj}. It is shown only once.")
        self.stdout.write(raw_key)
