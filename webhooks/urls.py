from django.urls import path

from webhooks import api

urlpatterns = [
    path("webhooks", api.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<str:endpoint_id>", api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<str:endpoint_id>/test", api.WebhookSendTestApi.as_view(), name="webhook-test"),
    path("webhooks/<str:endpoint_id>/rotate-secret", api.WebhookRotateSecretApi.as_view(), name="webhook-rotate"),
    path("webhooks/<str:endpoint_id>/deliveries", api.WebhookDeliveriesApi.as_view(), name="webhook-deliveries"),
    path("webhooks/<str:endpoint_id>/replay", api.WebhookReplayApi.as_view(), name="webhook-replay"),
    path("deliveries/<str:delivery_id>", api.DeliveryDetailApi.as_view(), name="delivery-detail"),
    path("deliveries/<str:delivery_id>/redeliver", api.DeliveryRedeliverApi.as_view(), name="delivery-redeliver"),
]
