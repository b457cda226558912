import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from pixdash.accounts.models import User, normalize_email
from pixdash.accounts.teams import create_team


class Command(BaseCommand):
    help = "Create a team owned by EMAIL (creating the user if missing); prints the slug last."

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, help="Owner's e-mail address")
        parser.add_argument("--name", required=True, help="Team name")
        parser.add_argument("--password", help="Password for a newly created owner")

    def handle(self, *args, owner, name, password, **options):
        if not name.strip():
            raise CommandError("--name must not be empty")
        email = normalize_email(owner)
        with transaction.atomic():
            user = User.objects.filter(email=email).first()
            if user is None:
                # Without --password the owner picks one through "Forgot your password?".
                # A random, never-shown password rather than Django's unusable marker,
                # because password reset silently skips users with an unusable password.
                user = User.objects.create_user(
                    email=email, password=password or secrets.token_urlsafe(32)
                )
                hint = "" if password else "; they set a password via 'Forgot your password?'"
                self.stderr.write(f"Created user {email}{hint}")
            elif password:
                raise CommandError(f"{email} already exists; --password applies to new users")
            team = create_team(owner=user, name=name)
        self.stdout.write(team.slug)
