"""Issue an API key for the shop and print it, once."""

from django.core.management.base import BaseCommand, CommandError

from campaigns.services.api_keys import ApiKeyNameTaken, api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key named NAME and print it. Only a hash is stored: copy the "
        "key now, it cannot be shown again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "name", help="What the key is for, e.g. 'webshop'. Must be unique."
        )

    def handle(self, *args, name, **options):
        try:
            api_key, plaintext = api_key_create(name=name)
        except ApiKeyNameTaken as exc:
            raise CommandError(
                f"{exc} Choose another name, or revoke the old key in the admin and "
                "issue one under a new name."
            ) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(
            f"API key '{api_key.name}' created. Copy it now; it is not shown again:"
        )
        self.stdout.write(plaintext)
