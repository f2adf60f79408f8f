"""The directory incidents refer to, over the API: services and responders."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import responders, selectors, services
from incidents.api.serializers import (
    ResponderCreateInput,
    ResponderOutput,
    ResponderUpdateInput,
    ServiceCreateInput,
    ServiceOutput,
)
from incidents.models import Responder, Service
from opsknight.api.pagination import paginated_response
from opsknight.api.schema import PAGE_PARAMETERS, error_responses, paginated
from opsknight.models import Scope

READ = Scope.INCIDENTS_READ
WRITE = Scope.INCIDENTS_WRITE


class ServiceListCreateApi(APIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        operation_id="services_list",
        summary="List services",
        description="Newest first, cursor-paginated.",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(ServiceOutput), **error_responses(400, 403)},
    )
    def get(self, request):
        return paginated_response(
            request=request, view=self, queryset=selectors.service_list(), serializer_class=ServiceOutput
        )

    @extend_schema(
        operation_id="services_create",
        summary="Create a service",
        description="`name` is unique: a name already taken is a 400 naming it.",
        request=ServiceCreateInput,
        responses={201: ServiceOutput, **error_responses(400, 403, 413, 415)},
    )
    def post(self, request):
        data = ServiceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        service = services.service_create(**data.validated_data)
        return Response(ServiceOutput(service).data, status=status.HTTP_201_CREATED)


class ServiceDetailApi(APIView):
    required_scopes = {"GET": READ}

    @extend_schema(
        operation_id="services_retrieve",
        summary="Get a service",
        description="One service by id; 404 for an unknown id.",
        responses={200: ServiceOutput, **error_responses(403, 404)},
    )
    def get(self, request, service_id: str):
        try:
            service = selectors.service_get(service_id=service_id)
        except Service.DoesNotExist:
            raise NotFound(f"No service with id '{service_id}'.") from None
        return Response(ServiceOutput(service).data)


def get_responder(responder_id: str) -> Responder:
    try:
        return responders.responder_get(responder_id=responder_id)
    except Responder.DoesNotExist:
        raise NotFound(f"No responder with id '{responder_id}'.") from None


class ResponderListCreateApi(APIView):
    required_scopes = {"GET": READ, "POST": WRITE}

    @extend_schema(
        operation_id="responders_list",
        summary="List responders",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(ResponderOutput), **error_responses(400, 403)},
        description="The people incidents can be assigned to, newest first.",
    )
    def get(self, request):
        return paginated_response(
            request=request, view=self, queryset=responders.responder_list(), serializer_class=ResponderOutput
        )

    @extend_schema(
        operation_id="responders_create",
        summary="Add a responder",
        request=ResponderCreateInput,
        responses={201: ResponderOutput, **error_responses(400, 403, 413, 415)},
        description="`email` is unique (case-insensitively), and so is `slack_user_id`: a duplicate is a 400.",
    )
    def post(self, request):
        data = ResponderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        responder = responders.responder_create(**data.validated_data)
        return Response(ResponderOutput(responder).data, status=status.HTTP_201_CREATED)


class ResponderDetailApi(APIView):
    required_scopes = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    @extend_schema(
        operation_id="responders_retrieve",
        summary="Get a responder",
        description="One responder with its chat handles; 404 for an unknown id.",
        responses={200: ResponderOutput, **error_responses(403, 404)},
    )
    def get(self, request, responder_id: str):
        return Response(ResponderOutput(get_responder(responder_id)).data)

    @extend_schema(
        operation_id="responders_update",
        summary="Change a responder",
        request=ResponderUpdateInput,
        responses={200: ResponderOutput, **error_responses(400, 403, 404, 413, 415)},
        description='Only the fields given change; `null` or `""` clears a chat handle.',
    )
    def patch(self, request, responder_id: str):
        responder = get_responder(responder_id)
        data = ResponderUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        responder = responders.responder_update(responder=responder, **data.validated_data)
        return Response(ResponderOutput(responder).data)

    @extend_schema(
        operation_id="responders_destroy",
        summary="Remove a responder",
        responses={204: None, **error_responses(403, 404)},
        description="Incidents assigned to the responder keep its email as their assignee.",
    )
    def delete(self, request, responder_id: str):
        responders.responder_delete(responder=get_responder(responder_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
