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
        method = "GET" if request.method == "HEAD" else request.method
        scope = getattr(view, "required_scopes", {}).get(method)
        if scope is None:
            # A method the view does not declare: let DRF answer 405, not 403.
            return True
        if not key.has_scope(scope):
            self.message = f"This API key lacks the scope '{scope}'."
            return False
        return True
