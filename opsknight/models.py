from django.db import models
from django.utils import timezone

from opsknight.ids import new_id


def new_api_key_id() -> str:
    return new_id("key")


class Scope(models.TextChoices):
    INCIDENTS_READ = "incidents:read", "Read public incidents"
    INCIDENTS_WRITE = "incidents:write", "Declare incidents and change their status"
    INCIDENTS_READ_PRIVATE = "incidents:read_private", "Read private incidents too"
    WEBHOOKS_MANAGE = "webhooks:manage", "Manage webhook endpoints and deliveries"


class ApiKey(models.Model):
    """A bearer key for the REST API. Only a SHA-256 digest of the key is stored: the
    key is high-entropy, so a fast digest is enough, and the key is shown only once."""

    id = models.CharField(primary_key=True, max_length=40, default=new_api_key_id, editable=False)
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it.")
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
