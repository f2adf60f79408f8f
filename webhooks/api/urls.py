from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhooks", views.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<str:endpoint_id>", views.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<str:endpoint_id>/test", views.WebhookSendTestApi.as_view(), name="webhook-test"),
    path("webhooks/<str:endpoint_id>/rotate-secret", views.WebhookRotateSecretApi.as_view(), name="webhook-rotate"),
    path("webhooks/<str:endpoint_id>/rotate-key", views.WebhookRotateKeyApi.as_view(), name="webhook-rotate-key"),
    path("webhooks/<str:endpoint_id>/deliveries", views.WebhookDeliveriesApi.as_view(), name="webhook-deliveries"),
    path("webhooks/<str:endpoint_id>/replay", views.WebhookReplayApi.as_view(), name="webhook-replay"),
    path("deliveries/<str:delivery_id>", views.DeliveryDetailApi.as_view(), name="delivery-detail"),
    path("deliveries/<str:delivery_id>/redeliver", views.DeliveryRedeliverApi.as_view(), name="delivery-redeliver"),
]
