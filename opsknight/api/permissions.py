from rest_framework import permissions

from opsknight.models import ApiKey


class HasRequiredScopes(permissions.BasePermission):
    """Views declare `required_scopes = {"GET": "incidents:read", "POST": ...}`.
    No key → 401 (DRF turns a refusal without authentication into NotAuthenticated);
    a key without the scope → 403 naming the scope."""

    message = "This API key is not allowed to do that."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        scope = getattr(view, "required_scopes", {}).get(request.method)
        if scope is None:
            return request.method == "OPTIONS"
        if not key.has_scope(scope):
            self.message = f"This API key lacks the scope '{scope}'."
            return False
        return True
