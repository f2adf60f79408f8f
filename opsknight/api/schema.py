"""Shapes shared by the OpenAPI descriptions of every API view."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers


class ScopedAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, adding to each operation's description the scope
    its view requires (`required_scopes`), so /api/docs states it from the code itself."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        scope = getattr(self.view, "required_scopes", {}).get(self.method)
        if operation is not None and scope:
            description = operation.get("description", "").strip()
            operation["description"] = f"{description}\n\nScope: `{scope}`.".strip()
        return operation


ErrorResponse = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            },
        )
    },
)


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error statuses an operation can answer, plus 401 which every one can."""
    return {status: OpenApiResponse(ErrorResponse) for status in sorted({401, *statuses})}


def paginated(serializer_class) -> serializers.Serializer:
    """The schema of a cursor-paginated list of `serializer_class`: `{"results", "next"}`."""
    name = serializer_class.__name__.removesuffix("Output")
    return inline_serializer(
        name=f"{name}Page",
        fields={
            "results": serializer_class(many=True),
            "next": serializers.URLField(allow_null=True, help_text="The next page, or null on the last one."),
        },
    )


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="From the `next` URL of the previous page."),
    OpenApiParameter("limit", int, description="Items per page: 50 by default, 200 at most."),
]
