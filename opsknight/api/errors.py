"""One error shape for the whole API:
`{"error": {"code": "...", "message": "...", "fields": {...}}}`, never an HTML page."""

import json

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from opsknight.errors import ConflictError


def error_body(*, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors like the input; flatten to {"field.sub": ["message", ...]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            fields.update(_flatten_field_errors(value, key))
    elif isinstance(detail, list) and detail and not all(isinstance(item, str) for item in detail):
        for index, value in enumerate(detail):
            fields.update(_flatten_field_errors(value, f"{prefix}[{index}]"))
    else:
        items = detail if isinstance(detail, list) else [detail]
        fields[prefix or "non_field_errors"] = [str(item) for item in items]
    return fields


def _validation_message(fields: dict[str, list[str]]) -> str:
    parts = []
    for name, messages in fields.items():
        parts.append(messages[0] if name == "non_field_errors" else f"{name}: {messages[0]}")
    return "Invalid input. " + " ".join(parts)


def api_exception_handler(exc, context):
    if isinstance(exc, ConflictError):
        return Response(error_body(code=exc.code, message=exc.message), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DataError):
        # The database refused a value (a NUL byte, a number out of range): bad input.
        exc = exceptions.ValidationError(
            {"non_field_errors": ["A value in the request cannot be stored or searched for."]}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: Django's 500 handler (JSON under /api/) takes it.

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_field_errors(exc.detail)
        response.data = error_body(code="invalid", message=_validation_message(fields), fields=fields)
    else:
        code = getattr(exc.detail, "code", None) or exc.default_code
        response.data = error_body(code=str(code), message=str(exc.detail))
    return response


def _json_error(request, *, status_code: int, code: str, message: str):
    return JsonResponse(error_body(code=code, message=message), status=status_code)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def api_not_found(request):
    """Any /api/ path no route takes (the last URL pattern). A path that only has a slash
    too many (`/api/v1/incidents/`) answers 308 to the path without it: clients keep the
    method and body (RFC 9110), so a POST is sent again as a POST. Anything else: a JSON 404."""
    if request.path_info.endswith("/"):
        target = request.path_info.rstrip("/")
        try:
            match = resolve(target)
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            location = request.path.rstrip("/")
            query = request.META.get("QUERY_STRING", "")
            response = HttpResponsePermanentRedirect(
                f"{location}?{query}" if query else location, preserve_request=True, content_type="application/json"
            )
            response.content = json.dumps(
                error_body(code="moved_permanently", message=f"Use {location}, without the trailing slash.")
            )
            return response
    return _json_error(request, status_code=404, code="not_found", message=f"No such resource: {request.path}")


def handler404(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return _json_error(request, status_code=500, code="server_error", message="Internal server error.")
    from django.views.defaults import server_error

    return server_error(request)


def handler400(request, exception=None):
    if _is_api(request):
        return _json_error(request, status_code=400, code="bad_request", message="Bad request.")
    from django.views.defaults import bad_request

    return bad_request(request, exception)
