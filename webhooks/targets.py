"""Which URLs a webhook may be sent to. Loopback, private, link-local and other
internal addresses are refused unless WEBHOOK_ALLOW_PRIVATE_TARGETS is set, so an
endpoint cannot be used to reach the service's own network."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class TargetRefused(Exception):
    """The URL may not be called; the message says why, for the attempt log and the API."""


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def validate_url_shape(url: str) -> None:
    """Scheme and host only, no network: for create/update validation."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise TargetRefused("The URL has an invalid port.") from None


def check_target(url: str) -> None:
    """Refuse the URL if its host resolves to an internal address (and that is not allowed)."""
    validate_url_shape(url)
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"Cannot resolve host '{parts.hostname}': {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if _is_internal(address):
            raise TargetRefused(
                f"Refused: '{parts.hostname}' resolves to the internal address {address} "
                "(set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow internal targets)."
            )
