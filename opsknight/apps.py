from django.apps import AppConfig


class OpsKnightConfig(AppConfig):
    """The project package is also a small app: it owns API keys and the API plumbing
    (authentication, scopes, errors, pagination) that `incidents` and `webhooks` share."""

    name = "opsknight"
    verbose_name = "OpsKnight"

    def ready(self) -> None:
        # Registers the OpenAPI description of the API key authentication.
        from opsknight.api import authentication  # noqa: F401
