from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from opsknight import monitoring
        from webhooks import metrics
        from webhooks.delivery import outbox, tasks  # noqa: F401 - connects the outbox writer; registers the tasks

        monitoring.register_collector(metrics.QUEUE_HEALTH)  # the queue gauges on /metrics
