"""Incident and alert-event API views: validate, call a service or
selector, render."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import alerts, selectors, services
from incidents.actors import Actor
from incidents.api.serializers import (
    AlertEventInput,
    AlertEventOutput,
    ExternalLinkCreateInput,
    ExternalLinkOutput,
    IncidentAcknowledgeInput,
    IncidentCreateInput,
    IncidentEventOutput,
    IncidentFilterInput,
    IncidentOutput,
)
from incidents.models import ExternalLink, Incident
from opsknight.api.pagination import OldestFirstCursorPagination, paginated_response
from opsknight.api.schema import PAGE_PARAMETERS, error_responses, paginated
from opsknight.models import Scope

READ = Scope.INCIDENTS_READ
WRITE = Scope.INCIDENTS_WRITE


def can_read_private(request) -> bool:
    return request.auth.has_scope(Scope.INCIDENTS_READ_PRIVATE)


def get_visible_incident(request, incident_id: str) -> Incident:
    try:
        return selectors.incident_get(incident_id=incident_id, include_private=can_read_private(request))
    except Incident.DoesNotExist:
        raise NotFound(f"No incident with id '{incident_id}'.") from None


class IncidentListCreateApi(APIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        operation_id="incidents_list",
        summary="List incidents",
        description="Newest first, cursor-paginated. Private incidents are listed only for a key with "
        "`incidents:read_private`. Filters: `status`, `severity`, `service_id`, `created_after`; an invalid "
        "value is a 400 naming it.",
        parameters=[IncidentFilterInput, *PAGE_PARAMETERS],
        responses={200: paginated(IncidentOutput), **error_responses(400, 403)},
    )
    def get(self, request):
        filters = IncidentFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        incidents = selectors.incident_list(include_private=can_read_private(request), **filters.validated_data)
        return paginated_response(request=request, view=self, queryset=incidents, serializer_class=IncidentOutput)

    @extend_schema(
        operation_id="incidents_create",
        summary="Declare an incident",
        description="Opens an incident (`status` `triggered`, `version` 1) and emits `incident.triggered`: 201. "
        "`idempotency_key` is required and belongs to this API key: sending it again answers 200 with the "
        "incident this key declared with it, as it is now, and emits nothing. Another key's incidents are "
        "never returned.",
        request=IncidentCreateInput,
        responses={
            201: IncidentOutput,
            200: OpenApiResponse(
                IncidentOutput, description="This API key already declared an incident with this idempotency_key."
            ),
            **error_responses(400, 403, 413, 415),
        },
    )
    def post(self, request):
        data = IncidentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["service"] = fields.pop("service_id")
        incident, created = services.incident_create_by_api_key(**fields, api_key=request.auth)
        return Response(
            IncidentOutput(incident).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class IncidentDetailApi(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="incidents_retrieve",
        summary="Get an incident",
        description="The incident with its service, assignee and external links. A private incident answers 404 "
        "to a key without `incidents:read_private`, as an unknown id does.",
        responses={200: IncidentOutput, **error_responses(403, 404)},
    )
    def get(self, request, incident_id: str):
        return Response(IncidentOutput(get_visible_incident(request, incident_id)).data)


class IncidentTimelineApi(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="incidents_events_list",
        summary="List an incident's timeline",
        description="One entry per change, oldest first: the event it emitted (`type`), the incident's `version` "
        "after it, when (`occurred_at`) and who (`actor`).",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(IncidentEventOutput), **error_responses(400, 403, 404)},
    )
    def get(self, request, incident_id: str):
        incident = get_visible_incident(request, incident_id)
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.incident_timeline(incident=incident),
            serializer_class=IncidentEventOutput,
            pagination_class=OldestFirstCursorPagination,
        )


class IncidentTransitionApi(APIView):
    """One lifecycle action on an incident; each subclass below names its transition."""

    required_scopes = {"POST": WRITE}
    transition: services.Transition

    def post(self, request, incident_id: str):
        incident = services.incident_transition(
            incident=get_visible_incident(request, incident_id),
            transition=self.transition,
            actor=Actor.from_api_key(request.auth),
        )
        return Response(IncidentOutput(incident).data)


def transition_schema(transition: services.Transition, *, request=None, description: str = ""):
    """The action's own OpenAPI operation, on the `post` its class inherits."""
    return extend_schema_view(
        post=extend_schema(
            operation_id=f"incidents_{transition.action}",
            summary=f"{transition.action.capitalize()} an incident",
            request=request,
            responses={200: IncidentOutput, **error_responses(*((400,) if request else ()), 403, 404, 409)},
            description=f"Allowed when the status is {' or '.join(sorted(transition.allowed_from))}; "
            f"emits `{transition.event_type}`. Any other status: 409." + description,
        )
    )


@transition_schema(
    services.ACKNOWLEDGE,
    request=IncidentAcknowledgeInput,
    description=" The body is optional; `assignee` says who takes the incident (as PagerDuty's acknowledge).",
)
class IncidentAcknowledgeApi(IncidentTransitionApi):
    transition = services.ACKNOWLEDGE

    def post(self, request, incident_id: str):
        data = IncidentAcknowledgeInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        incident = services.incident_acknowledge(
            incident=get_visible_incident(request, incident_id),
            actor=Actor.from_api_key(request.auth),
            assignee=data.validated_data["assignee"],
        )
        return Response(IncidentOutput(incident).data)


@transition_schema(services.RESOLVE)
class IncidentResolveApi(IncidentTransitionApi):
    transition = services.RESOLVE


@transition_schema(services.ESCALATE)
class IncidentEscalateApi(IncidentTransitionApi):
    transition = services.ESCALATE


@transition_schema(services.REOPEN)
class IncidentReopenApi(IncidentTransitionApi):
    transition = services.REOPEN


class IncidentLinkListCreateApi(APIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        operation_id="incidents_links_list",
        summary="List an incident's external links",
        description="Records in other systems about the incident (tickets, chat threads), oldest first.",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(ExternalLinkOutput), **error_responses(400, 403, 404)},
    )
    def get(self, request, incident_id: str):
        incident = get_visible_incident(request, incident_id)
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.external_link_list(incident=incident),
            serializer_class=ExternalLinkOutput,
            pagination_class=OldestFirstCursorPagination,
        )

    @extend_schema(
        operation_id="incidents_links_create",
        summary="Link an incident to another system's record",
        request=ExternalLinkCreateInput,
        responses={
            201: ExternalLinkOutput,
            200: OpenApiResponse(ExternalLinkOutput, description="A link with this system and key already existed."),
            **error_responses(400, 403, 404, 413, 415),
        },
        description="Idempotent on `system` + `key`. Emits no event: the link appears in the incident's later "
        "webhook payloads (`incident.externalLinks`).",
    )
    def post(self, request, incident_id: str):
        incident = get_visible_incident(request, incident_id)
        data = ExternalLinkCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        link, created = services.external_link_add(incident=incident, **data.validated_data)
        return Response(
            ExternalLinkOutput(link).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class IncidentLinkDetailApi(APIView):
    required_scopes = {"DELETE": WRITE}

    @extend_schema(
        operation_id="incidents_links_destroy",
        summary="Remove an external link",
        description="Deletes the link: 204. Emits no event; the incident's later webhooks no longer carry it.",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request, incident_id: str, link_id: str):
        incident = get_visible_incident(request, incident_id)
        try:
            link = selectors.external_link_get(incident=incident, link_id=link_id)
        except ExternalLink.DoesNotExist:
            raise NotFound(f"Incident {incident.id} has no link with id '{link_id}'.") from None
        services.external_link_remove(link=link)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertEventApi(APIView):
    """PagerDuty Events API v2 shape; the rules are in incidents/alerts.py."""

    required_scopes = {"POST": WRITE}

    @extend_schema(
        operation_id="events_create",
        summary="Send an alert (Events API)",
        request=AlertEventInput,
        responses={202: AlertEventOutput, **error_responses(400, 403, 404, 413, 415)},
        description="Alerts in the shape of PagerDuty's Events API v2. "
        "`trigger` opens an incident, or finds the open one with the same `dedup_key`; "
        "`acknowledge` and `resolve` act on the `dedup_key`'s incident and succeed also when it is already "
        "in that state. 404 for an acknowledge or resolve with a `dedup_key` no incident has.",
    )
    def post(self, request):
        data = AlertEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = data.validated_data
        try:
            outcome = alerts.alert_event_apply(
                event_action=event["event_action"],
                dedup_key=event["dedup_key"],
                payload=event.get("payload"),
                service=event["routing_key"],
                actor=Actor.from_api_key(request.auth),
                created_by_key=request.auth,
            )
        except alerts.UnknownDedupKey as error:
            raise NotFound(error.message) from None
        body = {
            "status": "success",
            "message": "Event processed",
            "dedup_key": outcome.dedup_key,
            "incident_id": outcome.incident.id,
        }
        return Response(AlertEventOutput(body).data, status=status.HTTP_202_ACCEPTED)
