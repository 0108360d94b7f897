"""Create or reset the Marketers and Admins groups; in DEBUG, a demo marketer to try them."""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from campaigns.services.roles import MARKETERS, roles_ensure

DEMO_MARKETER = "marketer"


class Command(BaseCommand):
    help = (
        "Create or reset the groups Marketers and Admins with their permissions (migrate "
        "does this too). --demo-marketer also adds the staff user marketer/marketer in the "
        "Marketers group, with DEBUG on only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--demo-marketer", action="store_true",
                            help="Add the user marketer/marketer (DEBUG only).")

    def handle(self, *args, demo_marketer: bool, **options):
        counts = roles_ensure()
        self.stdout.write(", ".join(f"{name}: {n} permissions" for name, n in counts.items()))
        if not demo_marketer:
            return
        if not settings.DEBUG:
            # A known password on a real site would be an open door.
            raise CommandError("--demo-marketer is for local development (DEBUG on) only.")
        from django.contrib.auth.models import Group

        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=DEMO_MARKETER, defaults={"email": "marketer@example.com", "is_staff": True})
        if created:
            user.set_password(DEMO_MARKETER)
            user.save()
        user.groups.add(Group.objects.get(name=MARKETERS))
        state = "Created" if created else "Kept"
        self.stdout.write(self.style.SUCCESS(
            f"{state} the demo marketer: log in at http://127.0.0.1:8000/admin/ as "
            f"'{DEMO_MARKETER}' (password '{DEMO_MARKETER}' unless changed) to see what a "
            "marketer sees."))
