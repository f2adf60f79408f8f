"""The webhooks admin: endpoints, deliveries, and the incident timeline with its deliveries.
Importing the package registers them (Django's admin autodiscovery imports `webhooks.admin`)."""

from webhooks.admin import deliveries, endpoints, incident_timeline  # noqa: F401 - registers the admins
