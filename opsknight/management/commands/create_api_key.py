from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from opsknight.models import Scope
from opsknight.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key. The key is printed once, alone on the last line; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the key is for, e.g. 'grafana alerts'.")
        parser.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated: {', '.join(Scope.values)}.",
        )

    def handle(self, *args, name: str, scopes: str, **options):
        try:
            key, raw_key = api_key_create(name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(f"Created API key {key.id} '{key.name}' with scopes {', '.join(key.scopes)}.")
        self.stderr.write("Store it now: it cannot be shown again.")
        self.stdout.write(raw_key)
