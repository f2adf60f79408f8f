from django.urls import path
from hooks.views import OpsKnightWebhookView

urlpatterns = [path("hooks/opsknight", OpsKnightWebhookView.as_view())]
