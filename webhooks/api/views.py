"""Webhook API views (scope `webhooks:manage`): validate, call a service, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from opsknight.api.pagination import paginated_response
from opsknight.api.schema import PAGE_PARAMETERS, error_responses, paginated
from opsknight.models import Scope
from webhooks import selectors
from webhooks.actions import delivery_redeliver, endpoint_replay, endpoint_send_test
from webhooks.api.serializers import (
    DeliveryDetailOutput,
    DeliveryFilterInput,
    DeliveryOutput,
    EndpointCreateInput,
    EndpointOutput,
    EndpointUpdateInput,
    EndpointWithSecretOutput,
    ReplayInput,
    ReplayOutput,
    RotateSecretInput,
    SendTestInput,
    TestOutcomeOutput,
)
from webhooks.endpoint_signing import endpoint_rotate_signing_key
from webhooks.endpoints import endpoint_create, endpoint_delete, endpoint_rotate_secret, endpoint_update
from webhooks.models import Delivery, WebhookEndpoint

MANAGE = Scope.WEBHOOKS_MANAGE


def get_endpoint(endpoint_id: str) -> WebhookEndpoint:
    try:
        return selectors.endpoint_get(endpoint_id=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound(f"No webhook endpoint with id '{endpoint_id}'.") from None


def get_delivery(delivery_id: str) -> Delivery:
    try:
        return selectors.delivery_get(delivery_id=delivery_id)
    except Delivery.DoesNotExist:
        raise NotFound(f"No delivery with id '{delivery_id}'.") from None


class WebhookListCreateApi(APIView):
    required_scopes = {"GET": MANAGE, "POST": MANAGE}

    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook endpoints",
        description="Newest first, cursor-paginated. Secrets are never shown here, and custom header values that "
        "look like credentials are shown as `[redacted]`.",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(EndpointOutput), **error_responses(400, 403)},
    )
    def get(self, request):
        return paginated_response(
            request=request, view=self, queryset=selectors.endpoint_list(), serializer_class=EndpointOutput
        )

    @extend_schema(
        operation_id="webhooks_create",
        summary="Create a webhook endpoint",
        request=EndpointCreateInput,
        responses={201: EndpointWithSecretOutput, **error_responses(400, 403, 413, 415)},
        description="Subscribes a URL to incident events. The answer is the only time the secret is shown. "
        "The service keeps at most `WEBHOOK_MAX_ENDPOINTS` endpoints: past it, a 400 says so.",
    )
    def post(self, request):
        data = EndpointCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_create(**data.validated_data)
        return Response(EndpointWithSecretOutput(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    required_scopes = {"GET": MANAGE, "PATCH": MANAGE, "DELETE": MANAGE}

    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="Get a webhook endpoint",
        description="The endpoint's settings and state, without its secret.",
        responses={200: EndpointOutput, **error_responses(403, 404)},
    )
    def get(self, request, endpoint_id: str):
        return Response(EndpointOutput(get_endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook endpoint",
        description="Only the fields given change. Changing `format` without `format_options` resets them to `{}`; "
        "`headers` replaces the whole object (send `[redacted]` as a value to keep a stored one); "
        "`is_active: true` enables a disabled endpoint again. A `signing` change from `ed25519` to `hmac` or "
        "`both` generates a shared secret: the answer then carries it as `secret`, the only time it is shown.",
        request=EndpointUpdateInput,
        responses={200: EndpointOutput, **error_responses(400, 403, 404, 413, 415)},
    )
    def patch(self, request, endpoint_id: str):
        endpoint = get_endpoint(endpoint_id)
        data = EndpointUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        had_secret = bool(endpoint.secret)
        endpoint = endpoint_update(endpoint=endpoint, **data.validated_data)
        if endpoint.secret and not had_secret:
            return Response(EndpointWithSecretOutput(endpoint).data)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a webhook endpoint",
        description="Deletes the endpoint with its delivery log: 204.",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request, endpoint_id: str):
        endpoint_delete(endpoint=get_endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSendTestApi(APIView):
    required_scopes = {"POST": MANAGE}

    @extend_schema(
        operation_id="webhooks_test",
        summary="Send a test event",
        request=SendTestInput,
        responses={200: TestOutcomeOutput, **error_responses(400, 403, 404)},
        description="Sends one signed sample event now and answers with the receiver's response.",
    )
    def post(self, request, endpoint_id: str):
        endpoint = get_endpoint(endpoint_id)
        data = SendTestInput(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = endpoint_send_test(endpoint=endpoint, **data.validated_data)
        return Response(TestOutcomeOutput(attempt).data)


class WebhookRotateSecretApi(APIView):
    required_scopes = {"POST": MANAGE}

    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Rotate an endpoint's secret",
        request=RotateSecretInput,
        responses={200: EndpointWithSecretOutput, **error_responses(400, 403, 404, 409)},
        description="The new secret is shown once, here. The old one keeps signing alongside it "
        "until `previous_secret_expires_at`. 409 for an endpoint with `signing` ed25519 (it has no secret).",
    )
    def post(self, request, endpoint_id: str):
        endpoint = get_endpoint(endpoint_id)
        data = RotateSecretInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_rotate_secret(endpoint=endpoint, **data.validated_data)
        return Response(EndpointWithSecretOutput(endpoint).data)


class WebhookRotateKeyApi(APIView):
    required_scopes = {"POST": MANAGE}

    @extend_schema(
        operation_id="webhooks_rotate_key",
        summary="Rotate a webhook endpoint's key pair",
        request=None,
        responses={200: EndpointOutput, **error_responses(403, 404, 409)},
        description="A new ed25519 key pair signs `v1a` from now on (`public_key`); the previous one keeps "
        "signing alongside it until `previous_key_expires_at`. The private key is never shown. 409 for an "
        "endpoint with `signing` hmac.",
    )
    def post(self, request, endpoint_id: str):
        endpoint = endpoint_rotate_signing_key(endpoint=get_endpoint(endpoint_id))
        return Response(EndpointOutput(endpoint).data)


class WebhookDeliveriesApi(APIView):
    required_scopes = {"GET": MANAGE}

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="List an endpoint's deliveries",
        description="Newest first, cursor-paginated; filters `status`, `event_type` and `is_test`.",
        parameters=[DeliveryFilterInput, *PAGE_PARAMETERS],
        responses={200: paginated(DeliveryOutput), **error_responses(400, 403, 404)},
    )
    def get(self, request, endpoint_id: str):
        endpoint = get_endpoint(endpoint_id)
        filters = DeliveryFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        deliveries = selectors.delivery_list(endpoint=endpoint, **filters.validated_data)
        return paginated_response(request=request, view=self, queryset=deliveries, serializer_class=DeliveryOutput)


class WebhookReplayApi(APIView):
    required_scopes = {"POST": MANAGE}

    @extend_schema(
        operation_id="webhooks_replay",
        summary="Replay events to an endpoint",
        request=ReplayInput,
        responses={202: ReplayOutput, **error_responses(400, 403, 404)},
        description="Sends every event since `since` that the endpoint subscribes to again, as new "
        "deliveries of the same events (same `webhook-id`).",
    )
    def post(self, request, endpoint_id: str):
        endpoint = get_endpoint(endpoint_id)
        data = ReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = endpoint_replay(endpoint=endpoint, since=data.validated_data["since"])
        return Response({"deliveries": count}, status=status.HTTP_202_ACCEPTED)


class DeliveryDetailApi(APIView):
    required_scopes = {"GET": MANAGE}

    @extend_schema(
        operation_id="deliveries_retrieve",
        summary="Get a delivery",
        description="One delivery with the body as sent and every attempt (status, duration, response excerpt, error).",
        responses={200: DeliveryDetailOutput, **error_responses(403, 404)},
    )
    def get(self, request, delivery_id: str):
        return Response(DeliveryDetailOutput(get_delivery(delivery_id)).data)


class DeliveryRedeliverApi(APIView):
    required_scopes = {"POST": MANAGE}

    @extend_schema(
        operation_id="deliveries_redeliver",
        summary="Redeliver a delivery",
        request=None,
        responses={202: DeliveryOutput, **error_responses(403, 404)},
        description="Queues the same event for the same endpoint again, as a new delivery.",
    )
    def post(self, request, delivery_id: str):
        redelivery = delivery_redeliver(delivery=get_delivery(delivery_id))
        return Response(DeliveryOutput(redelivery).data, status=status.HTTP_202_ACCEPTED)
