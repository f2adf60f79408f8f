"""Incident reads. Visibility is applied here, once, for every interface."""

import re
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from incidents.models import ExternalLink, Incident, IncidentEvent, Service


def incident_queryset(*, include_private: bool) -> QuerySet[Incident]:
    incidents = Incident.objects.select_related("service", "assignee_responder").prefetch_related("external_links")
    if not include_private:
        incidents = incidents.filter(visibility=Incident.Visibility.PUBLIC)
    return incidents


def incident_list(
    *,
    include_private: bool,
    status: str | None = None,
    severity: str | None = None,
    service_id: str | None = None,
    created_after: datetime | None = None,
) -> QuerySet[Incident]:
    incidents = incident_queryset(include_private=include_private)
    if status:
        incidents = incidents.filter(status=status)
    if severity:
        incidents = incidents.filter(severity=severity)
    if service_id:
        incidents = incidents.filter(service_id=service_id)
    if created_after:
        incidents = incidents.filter(created_at__gt=created_after)
    return incidents


def incident_get(*, incident_id: str, include_private: bool) -> Incident:
    """Raises Incident.DoesNotExist for unknown ids and for private incidents the
    caller may not read: a private incident is invisible, not forbidden."""
    return incident_queryset(include_private=include_private).get(pk=incident_id)


def incident_idempotency_key_taken(*, key: str, scope: str = "") -> bool:
    """Whether an incident of this idempotency scope (an API key's id; "" for incidents
    declared without a key, as in the admin) holds `key`."""
    return Incident.objects.filter(idempotency_scope=scope, idempotency_key=key).exists()


def incident_number_from_reference(text: str) -> int | None:
    """The number in a reference (`INC-42`, any case) or a bare number (`42`), else None."""
    prefix = re.escape(settings.INCIDENT_REFERENCE_PREFIX)
    match = re.fullmatch(rf"(?:{prefix}-)?([0-9]{{1,10}})", text.strip(), flags=re.IGNORECASE)
    if match is None or int(match.group(1)) > 2**31 - 1:  # beyond the column's range
        return None
    return int(match.group(1))


def incident_page_url(*, incident_id: str) -> str:
    """The incident's page for people (its admin page), absolute on PUBLIC_BASE_URL: the
    link chat messages and other formats carry. Ids need no admin quoting (`inc_` + ULID)."""
    return settings.PUBLIC_BASE_URL + reverse("admin:incidents_incident_change", args=[incident_id])


def incident_timeline(*, incident: Incident) -> QuerySet[IncidentEvent]:
    return IncidentEvent.objects.filter(incident=incident)


def external_link_list(*, incident: Incident) -> QuerySet[ExternalLink]:
    return ExternalLink.objects.filter(incident=incident)


def external_link_get(*, incident: Incident, link_id: str) -> ExternalLink:
    return ExternalLink.objects.get(incident=incident, pk=link_id)


def service_list() -> QuerySet[Service]:
    return Service.objects.all()


def service_get(*, service_id: str) -> Service:
    return Service.objects.get(pk=service_id)
