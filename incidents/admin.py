"""Incident admin. Every change goes through incidents.services, like the API's."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from incidents import responders, selectors, services
from incidents.actors import Actor
from incidents.models import ExternalLink, Incident, IncidentEvent, Responder, Service


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "created_at"]
    search_fields = ["id", "name"]
    readonly_fields = ["id", "created_at"]


class ResponderForm(forms.ModelForm):
    class Meta:
        model = Responder
        fields = responders.RESPONDER_FIELDS

    def clean_telegram_username(self):
        # As in the API: "@ada_l" is the username "ada_l".
        value = self.cleaned_data["telegram_username"]
        return value.removeprefix("@") if value else value


@admin.register(Responder)
class ResponderAdmin(admin.ModelAdmin):
    form = ResponderForm
    list_display = ["name", "email", "slack_user_id", "id", "created_at"]
    search_fields = ["id", "name", "email", "slack_user_id"]
    fields = ["id", *responders.RESPONDER_FIELDS, "created_at"]
    readonly_fields = ["id", "created_at"]

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in responders.RESPONDER_FIELDS}
        if change:
            responders.responder_update(responder=obj, **fields)
        else:
            obj.pk = responders.responder_create(**fields).pk  # the admin redirects to obj's page

    def delete_model(self, request, obj):
        responders.responder_delete(responder=obj)


class IncidentAddForm(forms.ModelForm):
    def clean_idempotency_key(self):
        # Incidents declared in the admin share one idempotency scope (API keys each have
        # their own): a key taken there is a form error, not a silent return of that incident.
        key = self.cleaned_data.get("idempotency_key") or None
        if key and selectors.incident_idempotency_key_taken(key=key):
            raise ValidationError("An incident declared in the admin already has this idempotency key.")
        return key

    def clean(self):
        cleaned = super().clean()
        # The service matches the assignee again when it saves; this turns an unknown
        # responder id into a form error instead of a server error.
        try:
            responders.assignee_resolve(value=cleaned.get("assignee"))
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned


class IncidentEventInline(admin.TabularInline):
    model = IncidentEvent
    verbose_name = "timeline entry"
    verbose_name_plural = "timeline"
    fields = ["occurred_at", "type", "version", "actor_type", "actor_name", "actor_id"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ExternalLinkInline(admin.TabularInline):
    """Read-only: links come from receivers through the API."""

    model = ExternalLink
    fields = ["system", "key", "url", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# The webhooks app re-registers this admin with a timeline that also shows each entry's
# webhook deliveries: webhooks/admin/incident_timeline.py (incidents never import webhooks).
@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    # Narrow columns: every one fits at 1440 px with the navigation sidebar open (the id is
    # on the incident's page, and the search finds an incident by it).
    list_display = [
        "reference", "title", "status", "severity", "service", "assignee_name", "level", "visibility", "created",
    ]  # fmt: skip
    list_filter = ["status", "severity", "visibility", "service"]
    # A reference (INC-42) or a bare number finds that incident too: get_search_results.
    search_fields = ["id", "title", "idempotency_key", "assignee", "assignee_responder__name"]
    search_help_text = "Reference (INC-42), id, title, idempotency key or assignee."
    list_select_related = ["service", "assignee_responder"]
    date_hierarchy = "created_at"
    inlines = [IncidentEventInline, ExternalLinkInline]
    actions = ["acknowledge", "resolve", "escalate", "reopen"]
    change_form_template = "admin/incidents/incident/change_form.html"

    class Media:
        css = {"all": ["opsknight/admin.css"]}

    # Declared through the form below; everything else changes only through a lifecycle action.
    add_fields = ["title", "summary", "severity", "service", "assignee", "visibility", "idempotency_key"]
    readonly_after_create = [
        "reference", "id", "title", "summary", "status", "severity", "service", "assignee_name",
        "assignee_responder", "visibility", "escalation_level", "idempotency_key", "version", "created_at",
        "created_by", "updated_at", "acknowledged_at", "resolved_at", "created_by_key",
    ]  # fmt: skip

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.readonly_after_create

    def has_change_permission(self, request, obj=None) -> bool:
        # Nothing on an incident's page is edited: it is read-only ("View incident", no
        # Save), and changes through its lifecycle buttons and actions (may_transition).
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Incidents and their timelines are the audit trail: never deleted here, one or many.
        return False

    def may_transition(self, request) -> bool:
        return super().has_change_permission(request)

    def has_lifecycle_permission(self, request) -> bool:  # for the list actions
        return self.may_transition(request)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_after_create

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = IncidentAddForm
        return super().get_form(request, obj, **kwargs)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("assignee_responder")

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        number = selectors.incident_number_from_reference(search_term)
        if number is not None:
            found |= queryset.filter(number=number)
        return found, may_have_duplicates

    @admin.display(description="reference", ordering="number")
    def reference(self, incident: Incident) -> str:
        return incident.reference

    @admin.display(description="level", ordering="escalation_level")
    def level(self, incident: Incident) -> int:
        return incident.escalation_level

    @admin.display(description="declared", ordering="created_at")
    def created(self, incident: Incident) -> str:
        moment = timezone.localtime(incident.created_at)
        return format_html('<span class="ok-time">{}<br>{}</span>', f"{moment:%Y-%m-%d}", f"{moment:%H:%M:%S %Z}")

    @admin.display(description="assignee", ordering="assignee")
    def assignee_name(self, incident: Incident) -> str:
        person = responders.incident_assignee(incident)
        return person.name if person else "—"

    @admin.display(description="declared by")
    def created_by(self, incident: Incident) -> str:
        return f"{incident.creator_name or incident.creator_id or '—'} ({incident.get_creator_type_display()})"

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on the change page is editable
        incident, _ = services.incident_create(
            title=obj.title,
            summary=obj.summary,
            severity=obj.severity,
            service=obj.service,
            assignee=obj.assignee,
            visibility=obj.visibility,
            idempotency_key=obj.idempotency_key,
            actor=Actor.from_user(request.user),
        )
        # The admin redirects to obj's change page: point it at what the service stored.
        obj.pk = incident.pk

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []  # no timeline before it exists

    def save_related(self, request, form, formsets, change):
        pass  # the timeline inline is read-only; incident_create wrote the first entry

    def construct_change_message(self, request, form, formsets, add=False):
        # The inline formsets were never saved (see save_related): log the form alone.
        return super().construct_change_message(request, form, [], add)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, unquote(object_id))
        if incident is not None:
            allowed = [t for t in services.TRANSITIONS.values() if incident.status in t.allowed_from]
            if not self.may_transition(request):
                allowed = []
            extra_context = {**(extra_context or {}), "transitions": allowed}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        transition = self.admin_site.admin_view(require_POST(self.transition_view))
        return [
            path("<path:object_id>/lifecycle/<str:action>/", transition, name="incidents_incident_transition"),
            *super().get_urls(),
        ]

    def transition_view(self, request, object_id, action):
        """A lifecycle button on the change page: apply it, say what happened, back to the page."""
        if action not in services.TRANSITIONS:
            raise Http404(f"No lifecycle action '{action}'.")
        incident = get_object_or_404(Incident, pk=unquote(object_id))
        if not self.may_transition(request):
            raise PermissionDenied
        self._apply(request, Incident.objects.filter(pk=incident.pk), services.TRANSITIONS[action])
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[quote(incident.pk)]))

    def _apply(self, request, queryset, transition: services.Transition):
        done, refused = 0, []
        for incident in queryset:
            try:
                services.incident_transition(
                    incident=incident, transition=transition, actor=Actor.from_user(request.user)
                )
                done += 1
            except services.InvalidTransition as error:
                refused.append(error.message)
        if done:
            self.message_user(request, f"Applied {transition.action} to {done} incident(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Acknowledge selected incidents", permissions=["lifecycle"])
    def acknowledge(self, request, queryset):
        self._apply(request, queryset, services.ACKNOWLEDGE)

    @admin.action(description="Resolve selected incidents", permissions=["lifecycle"])
    def resolve(self, request, queryset):
        self._apply(request, queryset, services.RESOLVE)

    @admin.action(description="Escalate selected incidents", permissions=["lifecycle"])
    def escalate(self, request, queryset):
        self._apply(request, queryset, services.ESCALATE)

    @admin.action(description="Reopen selected incidents", permissions=["lifecycle"])
    def reopen(self, request, queryset):
        self._apply(request, queryset, services.REOPEN)
