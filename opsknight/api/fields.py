"""Serializer fields shared by the API's inputs."""

from rest_framework import serializers


class ChoiceField(serializers.ChoiceField):
    """DRF's ChoiceField, whose refusal names the valid values, so a caller can fix the
    request from the error alone: `"urgent" is not a valid choice. Valid: critical, high…`."""

    default_error_messages = {"invalid_choice": '"{input}" is not a valid choice. Valid: {valid}.'}

    def fail(self, key, **kwargs):
        if key == "invalid_choice":
            kwargs["valid"] = ", ".join('""' if value == "" else str(value) for value in self.choices)
        super().fail(key, **kwargs)
