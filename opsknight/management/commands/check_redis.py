import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Exit non-zero with one clear line if Redis (the Celery broker) is not reachable."

    def handle(self, *args, **options):
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            raise CommandError(
                f"Redis is not reachable at {settings.REDIS_URL} ({error}). Start it with "
                "'redis-server --daemonize yes' (or 'docker compose up -d redis'), or set REDIS_URL."
            ) from None
