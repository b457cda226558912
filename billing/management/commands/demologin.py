import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from billing import ledger
from pixdash.accounts.models import User
from pixdash.accounts.teams import sign_up

DEMO_EMAIL = "demo@pixdash.local"


class Command(BaseCommand):
    help = (
        "Make sure the local demo login exists (with PIXDASH_DEMO_CREDITS on first creation) "
        "and print where and how to log in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url, **options):
        # The password is drawn once per data directory and kept beside the database, so
        # restarts print the same login and never invalidate an open browser session.
        password_file = settings.DATA_DIR / "demo-password.txt"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(12))
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = sign_up(email=DEMO_EMAIL, password=password, name="Demo")
            if settings.PIXDASH_DEMO_CREDITS > 0:
                ledger.credit(
                    team=user.current_team,
                    amount=settings.PIXDASH_DEMO_CREDITS,
                    reason="Demo credits to play with",
                )
        elif not user.check_password(password):
            password = "(changed by you; use 'Forgot password' or manage.py changepassword)"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "  Pixdash is starting.",
                    f"  Open:     {url}",
                    f"  E-mail:   {DEMO_EMAIL}",
                    f"  Password: {password}",
                    "",
                ]
            )
        )
