from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Empty PROMETHEUS_MULTIPROC_DIR (the workers' metric files), so counters start from 0. "
        "Only while no web or worker process runs: `make run` does this before starting them."
    )

    def handle(self, *args, **options):
        files = list(settings.PROMETHEUS_MULTIPROC_DIR.glob("*.db"))
        for path in files:
            path.unlink(missing_ok=True)
        if options["verbosity"] > 0:
            self.stdout.write(f"Removed {len(files)} metric file(s) from {settings.PROMETHEUS_MULTIPROC_DIR}.")
