from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from opsknight import monitoring
        from webhooks import metrics, receivers  # noqa: F401 - receivers connects the outbox writer

        monitoring.register_collector(metrics.QUEUE_HEALTH)  # the queue gauges on /metrics
