"""The admin site's name and icon, and API keys in the admin."""

from functools import cache
from pathlib import Path

from django.contrib import admin, messages
from django.http import HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from opsknight.models import ApiKey
from opsknight.services import api_key_revoke

admin.site.site_header = "OpsKnight"
admin.site.site_title = "OpsKnight"
admin.site.index_title = "Incidents and webhooks"

FAVICON = Path(__file__).resolve().parent / "static" / "opsknight" / "favicon.ico"


@cache
def _favicon_bytes() -> bytes:
    return FAVICON.read_bytes()


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request) -> HttpResponse:
    """/favicon.ico, which every browser asks for: a 32 px icon (a PNG in an ICO), not a 404."""
    return HttpResponse(_favicon_bytes(), content_type="image/vnd.microsoft.icon")


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
