"""The endpoint form of the admin: event types with their meaning, format, custom headers
typed one per line, and an optional typed secret. Checks go through webhooks.endpoints."""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from incidents.models import Incident, Service
from webhooks import formats, transport
from webhooks.endpoint_signing import NO_SECRET_WITH_ED25519, signing_errors
from webhooks.endpoints import (
    MIN_TYPED_SECRET_LENGTH,
    check_format,
    endpoint_check_format_change,
    endpoint_check_typed_secret,
    endpoint_check_url_move,
    endpoint_event_types,
)
from webhooks.models import EVENT_TYPES, ORDERINGS, VISIBILITY_FILTERS, Signing, WebhookEndpoint
from webhooks.transport.addresses import TargetRefused, check_url

EVENT_DESCRIPTIONS = {
    EVENT_TYPES.TRIGGERED: "an incident is declared",
    EVENT_TYPES.ACKNOWLEDGED: "someone takes it",
    EVENT_TYPES.ESCALATED: "it is escalated one level",
    EVENT_TYPES.RESOLVED: "it is resolved",
    EVENT_TYPES.REOPENED: "a resolved incident comes back",
}


def event_type_choices() -> list:
    """OpsKnight's names, then each format's own (incident.io's…), a group each."""
    groups = [("OpsKnight (every other format)", [(v, f"{v} — {EVENT_DESCRIPTIONS[v]}") for v in EVENT_TYPES.values])]
    for name in formats.NAMES:
        own = formats.event_types(name)
        if own is not None:
            descriptions = getattr(formats.FORMATS[name], "EVENT_DESCRIPTIONS", {})
            labels = [(t, f"{t} — {descriptions[t]}" if t in descriptions else t) for t in own]
            groups.append((f"{name} endpoints", labels))
    return groups


def format_options_help() -> str:
    """One line per format: the options it takes (what its validate_options accepts) and an
    example. The endpoint page shows the chosen format's line (all of them without script)."""
    items = []
    for name in formats.NAMES:
        options = formats.option_names(name)
        if not options:
            items.append(
                format_html(
                    '<li data-format="{}"><code>{}</code>: no options, leave <code>{{}}</code></li>', name, name
                )
            )
            continue
        names = ", ".join(f"{option} (required)" if required else option for option, required in options)
        example = json.dumps(formats.options_example(name), ensure_ascii=False)
        items.append(
            format_html(
                '<li data-format="{}"><code>{}</code>: {} — e.g. <code>{}</code></li>', name, name, names, example
            )
        )
    items = format_html_join("", "{}", ((item,) for item in items))
    return format_html(
        'A JSON object of the format\'s options (see docs/formats.md).<ul class="ok-format-options">{}</ul>', items
    )


EDITABLE_FIELDS = [
    "name", "url", "event_types", "services", "min_severity", "visibility", "format", "format_options",
    "ordering", "signing", "is_active", "headers", "description",
]  # fmt: skip


def service_choices() -> list[tuple[str, str]]:
    return [(service.pk, service.name) for service in Service.objects.order_by("name")]


def headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


class HeadersField(forms.CharField):
    """Custom headers typed one per line as `Name: value`."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "placeholder": "Authorization: Bearer ...\nX-Tenant: acme"})

    def to_python(self, value) -> dict[str, str]:
        headers: dict[str, str] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, header_value = line.partition(":")
            if not colon:
                raise ValidationError(f"Line {number}: write each header as 'Name: value'.")
            headers[name.strip()] = header_value.strip()
        return headers

    def validate(self, value) -> None:
        errors = transport.custom_header_errors(value)
        if errors:
            raise ValidationError(errors)

    def prepare_value(self, value):
        return headers_text(value) if isinstance(value, dict) else value


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave every box empty to receive all event types, including ones added later. Tick the "
        "names of the endpoint's format: incident.io's for an incidentio endpoint, OpsKnight's for the others.",
    )
    services = forms.MultipleChoiceField(
        choices=service_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Only incidents of these services. None ticked: every service (and incidents without one).",
    )
    min_severity = forms.ChoiceField(
        choices=[("", "any severity"), *reversed(Incident.Severity.choices)],
        required=False,
        label="Lowest severity",
        help_text="Only incidents of this severity or higher (info < low < medium < high < critical).",
    )
    visibility = forms.ChoiceField(
        choices=VISIBILITY_FILTERS, required=False, initial="both", help_text="Public incidents, private ones, or both."
    )
    ordering = forms.ChoiceField(
        choices=ORDERINGS,
        required=False,
        initial="none",
        help_text="per incident: an incident's deliveries go one at a time, in version order; a delivery waits "
        "until every earlier one of its incident has succeeded or failed for good. Other incidents are not held up.",
    )
    format = forms.ChoiceField(
        choices=[(name, name) for name in formats.NAMES],
        required=False,
        initial=formats.DEFAULT,
        help_text="What the endpoint receives: the OpsKnight JSON, a chat message or incident.io's envelope.",
    )
    headers = HeadersField(
        required=False,
        help_text=(
            "Extra headers sent on every attempt, one 'Name: value' per line. Content-Type, User-Agent, Host, "
            "webhook-* and X-OpsKnight-* are set by OpsKnight and refused here. Credential-like values show as "
            f"{transport.REDACTED}; leave that in place to keep the stored value."
        ),
    )
    signing = forms.ChoiceField(
        choices=Signing.choices,
        required=False,
        initial=Signing.HMAC,
        help_text="How webhook-signature is signed. hmac: v1, with the shared secret. ed25519: v1a, with a key "
        "pair; receivers verify with the public key alone, and there is no shared secret (no "
        "X-OpsKnight-Signature). both: v1 and v1a, while receivers move from one to the other. A key pair or "
        "a secret is generated when needed (a new secret is shown once, after saving); what is no longer "
        "used is dropped. pagerduty and incidentio endpoints need the secret: hmac or both.",
    )
    secret = forms.CharField(
        required=False,
        min_length=MIN_TYPED_SECRET_LENGTH,
        max_length=200,
        help_text="Leave empty to generate one (recommended). It is shown once, after saving. For an "
        "incidentio endpoint a typed secret must be whsec_ + base64, as Svix receivers take it. None for "
        "signing ed25519.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [*EDITABLE_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "format_options" in self.fields:
            self.fields["format_options"].help_text = format_options_help()
        if self.instance.pk and not self.is_bound:
            self.initial["headers"] = transport.redact_headers(self.instance.headers, custom=self.instance.headers)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except TargetRefused as error:
            raise forms.ValidationError(str(error)) from None
        return url

    def clean(self):
        data = super().clean()
        # Left out of a form post (older pages, scripts): the model's defaults.
        data["visibility"] = data.get("visibility") or "both"
        data["ordering"] = data.get("ordering") or "none"
        data["min_severity"] = data.get("min_severity") or ""
        data["services"] = data.get("services") or []
        if "format" in data:
            data["format"] = data["format"] or formats.DEFAULT
            try:
                data["format_options"] = check_format(
                    format=data["format"], format_options=data.get("format_options") or {}
                )
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    field, _, option = name.partition(".")
                    self.add_error(field, f"{option}: {problems[0]}" if option else problems[0])
            self._check_for_format(data)
        if not self.instance._state.adding and "url" in data and "headers" in data:
            stored = WebhookEndpoint.objects.get(pk=self.instance.pk)
            try:
                endpoint_check_url_move(endpoint=stored, new_url=data["url"], new_headers=data["headers"])
            except ValidationError as error:
                self.add_error("headers", error.message_dict["headers"][0])
        return data

    def _check_for_format(self, data: dict) -> None:
        """What depends on the format: the event names it subscribes in, and whether its
        receivers can use the secret (typed now, or stored when the format changes)."""
        valid = endpoint_event_types(format=data["format"])
        unknown = [t for t in data.get("event_types") or [] if t not in valid]
        if unknown:
            self.add_error(
                "event_types", f"Not event types of {data['format']}: {', '.join(unknown)}. Valid: {', '.join(valid)}."
            )
        if "signing" in data:  # (a choice the form refused has its own error)
            # Left out of the POST: unchanged (hmac for a new endpoint), never a silent switch.
            data["signing"] = data["signing"] or self.instance.signing
            for name, problem in signing_errors(signing=data["signing"], format=data["format"]).items():
                self.add_error(name, problem)
            if data.get("secret") and data["signing"] == Signing.ED25519:
                self.add_error("secret", NO_SECRET_WITH_ED25519)
        try:
            if data.get("secret"):  # typed, on the add page
                endpoint_check_typed_secret(secret=data["secret"], format=data["format"])
            if not self.instance._state.adding:
                stored = WebhookEndpoint.objects.get(pk=self.instance.pk)
                endpoint_check_format_change(endpoint=stored, new_format=data["format"])
        except ValidationError as error:
            for name, problems in error.message_dict.items():
                self.add_error(name, problems[0])
