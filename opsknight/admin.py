from django.contrib import admin, messages

from opsknight.models import ApiKey
from opsknight.services import api_key_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created with `manage.py create_api_key` (the raw key is shown once there);
    the admin lists and revokes them."""

    list_display = ["name", "prefix", "scopes", "created_at", "revoked_at"]
    search_fields = ["id", "name", "prefix"]
    readonly_fields = ["id", "name", "prefix", "scopes", "created_at", "revoked_at"]
    exclude = ["hashed_key"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
