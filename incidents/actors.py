"""Who caused a lifecycle change: an API key, an admin user, or the system itself."""

from dataclasses import dataclass

from incidents.models import IncidentEvent


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    name: str = ""

    @classmethod
    def from_api_key(cls, key) -> "Actor":
        return cls(IncidentEvent.ActorType.API_KEY, key.id, key.name)

    @classmethod
    def from_user(cls, user) -> "Actor":
        return cls(IncidentEvent.ActorType.USER, str(user.pk), user.get_username())

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(IncidentEvent.ActorType.SYSTEM, "", name)
