"""Create the admin user on first run and print how to log in."""
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a superuser if none exists: DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL "
        "from the environment, else 'admin' with a generated password kept in var/."
    )

    def handle(self, *args, **options):
        import os

        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password_file = settings.VAR_DIR / "admin-password.txt"
        if User.objects.filter(username=username).exists():
            hint = (
                f"password in {password_file}"
                if password_file.exists()
                else "password as set at creation"
            )
            self.stdout.write(f"Admin user '{username}' exists ({hint}).")
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        if not password:
            password = secrets.token_urlsafe(12)
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        User.objects.create_superuser(
            username=username,
            email=os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com"),
            password=password,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Created admin user '{username}' with password '{password}' "
                "— log in at http://127.0.0.1:8000/admin/"
            )
        )
