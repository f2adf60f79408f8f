"""`manage.py webhooks_prune`: the hourly pruning of the delivery log, by hand."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError

from opsknight.management.pipes import PipeFriendlyCommand
from webhooks.actions import delivery_log_prune


class Command(PipeFriendlyCommand):
    help = (
        "Delete finished deliveries, their attempts, and then events without deliveries, older than "
        "WEBHOOK_RETENTION_DAYS (or --older-than-days), in small batches. Pending deliveries are kept. "
        "Beat runs the same every hour."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help=f"Age in days (default: WEBHOOK_RETENTION_DAYS, now {settings.WEBHOOK_RETENTION_DAYS}).",
        )

    def handle(self, *args, older_than_days: int | None, **options):
        days = settings.WEBHOOK_RETENTION_DAYS if older_than_days is None else older_than_days
        if days < 1:
            raise CommandError(f"--older-than-days must be at least 1, not {days}.")
        deleted = delivery_log_prune(older_than=timedelta(days=days))
        self.stdout.write(
            f"Deleted {deleted['deliveries']} deliveries, {deleted['attempts']} attempts and "
            f"{deleted['events']} events older than {days} days."
        )
