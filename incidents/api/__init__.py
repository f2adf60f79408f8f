"""The incidents REST API (`/api/v1/incidents`, `/api/v1/events`, `/api/v1/services`): views, serializers, URLs."""
