"""Cursor pagination for every list of the API: `{"results": [...], "next": <URL or null>}`."""

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView


class NewestFirstCursorPagination(CursorPagination):
    """`{"results": [...], "next": <URL or null>}`. Ids are time-sortable and unique,
    so ordering on the primary key is both "newest first" and a stable cursor."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        # DRF answers 404 for a cursor it cannot read; it is bad input, so 400.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Invalid cursor: use the `next` URL of a previous page."]}) from None

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "format": "uri", "nullable": True},
            },
        }


class OldestFirstCursorPagination(NewestFirstCursorPagination):
    ordering = "id"


def paginated_response(
    *,
    request,
    view: APIView,
    queryset: QuerySet,
    serializer_class: type[BaseSerializer],
    pagination_class: type[NewestFirstCursorPagination] = NewestFirstCursorPagination,
) -> Response:
    """One page of `queryset`, rendered by `serializer_class`, with the `next` cursor."""
    paginator = pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
