from django.conf import settings
from django.http import JsonResponse

from opsknight.api.errors import error_body


class ApiRequestSizeLimitMiddleware:
    """Refuse API bodies over API_MAX_BODY_BYTES with 413 before anything reads them.

    DRF's parsers read the request stream directly, past Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is enforced here on Content-Length.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(
                    error_body(code="bad_request", message="Content-Length is not a number."), status=400
                )
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    error_body(
                        code="request_too_large",
                        message=f"The request body is {length} bytes; the limit is {limit} bytes.",
                    ),
                    status=413,
                )
        return self.get_response(request)
