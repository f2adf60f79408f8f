"""The webhooks REST API (`/api/v1/webhooks`, `/api/v1/deliveries`): views, serializers, URLs."""
