from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from webhooks.delivery import outbox, tasks  # noqa: F401 - connects the outbox writer; registers the tasks
