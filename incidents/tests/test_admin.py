"""The incident admin: pages render, actions and the add form go through the services."""

import pytest
from django.contrib.admin.utils import quote
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents.models import Incident, IncidentEvent

S = Incident.Status
CHANGELIST = reverse("admin:incidents_incident_changelist")
ADD = reverse("admin:incidents_incident_add")


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="oncall", email="oncall@example.com", password="x")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def run_action(admin_client, action, *incidents):
    return admin_client.post(CHANGELIST, {"action": action, "_selected_action": [i.pk for i in incidents]}, follow=True)


def add_form(admin_client, url=ADD, **fields):
    """What a browser posts from an add or change page: the fields plus each inline's management form."""
    page = admin_client.get(url)
    data = dict(fields)
    for inline in page.context["inline_admin_formsets"]:
        for form in [inline.formset.management_form, *inline.formset.forms]:
            data.update({field.html_name: field.value() for field in form if field.value() is not None})
    return data


def messages_of(response):
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_admin_requires_login(client, make_incident):
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_changelist_and_change_page_render(admin_client, make_incident, service):
    incident = make_incident(title="Queue backlog", service=service, status=S.ACKNOWLEDGED)

    changelist = admin_client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert b"Queue backlog" in changelist.content
    for query in ({"status__exact": "acknowledged"}, {"q": "backlog"}, {"severity__exact": "high"}):
        response = admin_client.get(CHANGELIST, query)
        assert response.status_code == 200
        assert response.context["cl"].result_count == 1

    change = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert change.status_code == 200
    content = change.content.decode()
    assert "Queue backlog" in content
    assert "incident.acknowledged" in content  # the timeline inline

    assert admin_client.get(ADD).status_code == 200
    assert admin_client.get(reverse("admin:incidents_service_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:incidents_service_change", args=[service.pk])).status_code == 200


@pytest.mark.django_db
def test_acknowledge_action_goes_through_the_service(admin_client, superuser, make_incident):
    first, second = make_incident(), make_incident()

    response = run_action(admin_client, "acknowledge", first, second)

    assert response.status_code == 200
    assert (message_levels.SUCCESS, "Applied acknowledge to 2 incident(s).") in messages_of(response)
    for incident in (first, second):
        stored = Incident.objects.get(pk=incident.pk)
        assert (stored.status, stored.version) == (S.ACKNOWLEDGED, 2)
        assert stored.acknowledged_at is not None
        event = IncidentEvent.objects.get(incident=incident, version=2)
        assert event.type == "incident.acknowledged"
        assert (event.actor_type, event.actor_id, event.actor_name) == ("user", str(superuser.pk), "oncall")


@pytest.mark.django_db
@pytest.mark.parametrize("action, status", [("escalate", S.TRIGGERED), ("resolve", S.ACKNOWLEDGED)])
def test_other_actions_apply(admin_client, make_incident, action, status):
    incident = make_incident(status=status)
    run_action(admin_client, action, incident)
    stored = Incident.objects.get(pk=incident.pk)
    assert stored.version == incident.version + 1
    assert IncidentEvent.objects.get(incident=incident, version=stored.version).type == f"incident.{action}d"


@pytest.mark.django_db
def test_refused_action_warns_and_changes_nothing(admin_client, make_incident):
    resolved = make_incident(status=S.RESOLVED)
    before = Incident.objects.get(pk=resolved.pk)

    response = run_action(admin_client, "acknowledge", resolved)

    assert response.status_code == 200
    messages = messages_of(response)
    warnings = [text for level, text in messages if level == message_levels.WARNING]
    assert len(warnings) == 1 and "'resolved'" in warnings[0] and resolved.id in warnings[0]
    assert not [text for level, text in messages if level == message_levels.SUCCESS]
    after = Incident.objects.get(pk=resolved.pk)
    assert (after.status, after.version, after.updated_at) == (before.status, before.version, before.updated_at)
    assert IncidentEvent.objects.filter(incident=resolved).count() == 2


@pytest.mark.django_db
def test_mixed_selection_applies_what_it_can(admin_client, make_incident):
    triggered, resolved = make_incident(), make_incident(status=S.RESOLVED)

    response = run_action(admin_client, "acknowledge", triggered, resolved)

    levels = [level for level, _ in messages_of(response)]
    assert sorted(levels) == sorted([message_levels.SUCCESS, message_levels.WARNING])
    assert Incident.objects.get(pk=triggered.pk).status == S.ACKNOWLEDGED
    assert Incident.objects.get(pk=resolved.pk).status == S.RESOLVED


@pytest.mark.django_db
def test_add_form_creates_through_the_service(admin_client, superuser, service):
    form = add_form(
        admin_client,
        title="Login page is slow",
        summary="p99 over 3s",
        severity="medium",
        service=service.pk,
        assignee="",
        visibility="private",
        idempotency_key="",
    )

    response = admin_client.post(ADD, {**form, "_continue": "1"})

    assert response.status_code == 302, response.context and response.context["errors"]
    incident = Incident.objects.get()
    assert response["Location"] == reverse("admin:incidents_incident_change", args=[quote(incident.pk)])
    assert incident.id.startswith("inc_")
    assert (incident.title, incident.severity, incident.service, incident.visibility) == (
        "Login page is slow", "medium", service, "private",
    )  # fmt: skip
    assert (incident.status, incident.version) == (S.TRIGGERED, 1)
    assert incident.assignee is None and incident.idempotency_key is None
    event = IncidentEvent.objects.get(incident=incident)
    assert (event.type, event.version) == ("incident.triggered", 1)
    assert (event.actor_type, event.actor_id) == ("user", str(superuser.pk))

    change = admin_client.get(response["Location"])
    assert change.status_code == 200 and "incident.triggered" in change.content.decode()


@pytest.mark.django_db
def test_add_form_with_a_used_idempotency_key_is_refused(admin_client, make_incident):
    existing = make_incident(idempotency_key="alert-7")
    form = add_form(admin_client, title="dup", severity="high", visibility="public", idempotency_key="alert-7")

    response = admin_client.post(ADD, form)

    assert response.status_code == 200
    assert "idempotency_key" in response.context["adminform"].form.errors
    assert Incident.objects.count() == 1
    assert IncidentEvent.objects.filter(incident=existing).count() == 1


@pytest.mark.django_db
def test_add_form_save_returns_to_the_changelist(admin_client):
    form = add_form(admin_client, title="plain save", severity="low", visibility="public")
    response = admin_client.post(ADD, form, follow=True)
    assert response.redirect_chain[-1][0] == CHANGELIST
    assert b"plain save" in response.content
    assert Incident.objects.get().events.get().type == "incident.triggered"


@pytest.mark.django_db
def test_add_form_validates(admin_client):
    response = admin_client.post(ADD, add_form(admin_client, title="", severity="urgent", visibility="public"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "title" in errors and "severity" in errors
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_change_page_post_changes_nothing(admin_client, make_incident):
    incident = make_incident(title="original")
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    response = admin_client.post(url, add_form(admin_client, url, title="edited", status="resolved"))
    assert response.status_code == 403  # a read-only page: nothing to save
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.title, stored.status, stored.version) == ("original", S.TRIGGERED, 1)


# --- Lifecycle buttons on the change page ---------------------------------------------------


def change_url(incident) -> str:
    return reverse("admin:incidents_incident_change", args=[quote(incident.pk)])


def button_url(incident, action) -> str:
    return reverse("admin:incidents_incident_transition", args=[quote(incident.pk), action])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status, buttons",
    [
        (S.TRIGGERED, {"acknowledge", "resolve", "escalate"}),
        (S.ACKNOWLEDGED, {"resolve", "escalate"}),
        (S.RESOLVED, {"reopen"}),
    ],
)
def test_change_page_offers_the_transitions_the_status_allows(admin_client, make_incident, status, buttons):
    incident = make_incident(status=status)
    page = admin_client.get(change_url(incident)).content.decode()
    shown = {action for action in ["acknowledge", "resolve", "escalate", "reopen"] if f'id="{action}-button"' in page}
    assert shown == buttons
    for action in buttons:
        assert f'action="{button_url(incident, action)}"' in page


@pytest.mark.django_db
def test_a_lifecycle_button_applies_the_transition_through_the_service(admin_client, superuser, make_incident):
    incident = make_incident()

    response = admin_client.post(button_url(incident, "escalate"), follow=True)

    assert response.redirect_chain[-1][0] == change_url(incident)
    assert (message_levels.SUCCESS, "Applied escalate to 1 incident(s).") in messages_of(response)
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.escalation_level, stored.version) == (1, 2)
    event = IncidentEvent.objects.get(incident=incident, version=2)
    assert (event.type, event.actor_type, event.actor_name) == ("incident.escalated", "user", "oncall")


@pytest.mark.django_db
def test_a_refused_button_warns_and_changes_nothing(admin_client, make_incident):
    incident = make_incident(status=S.RESOLVED)
    response = admin_client.post(button_url(incident, "acknowledge"), follow=True)
    warnings = [text for level, text in messages_of(response) if level == message_levels.WARNING]
    assert len(warnings) == 1 and "'resolved'" in warnings[0]
    assert Incident.objects.get(pk=incident.pk).version == incident.version


@pytest.mark.django_db
def test_lifecycle_buttons_need_post_a_known_action_and_an_incident(admin_client, make_incident):
    incident = make_incident()
    assert admin_client.get(button_url(incident, "resolve")).status_code == 405
    assert admin_client.post(button_url(incident, "explode")).status_code == 404
    assert admin_client.post(button_url(Incident(pk="inc_missing"), "resolve")).status_code == 404
    assert Incident.objects.get(pk=incident.pk).status == S.TRIGGERED


@pytest.mark.django_db
def test_lifecycle_buttons_need_the_change_permission(client, django_user_model, make_incident):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_incident"))
    client.force_login(viewer)
    incident = make_incident()
    assert client.post(button_url(incident, "resolve")).status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == S.TRIGGERED
