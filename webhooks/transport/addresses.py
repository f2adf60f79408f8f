"""Which addresses a webhook may be sent to (SSRF protection).

An endpoint URL is a request the service makes on someone else's behalf, so it must
not reach the service's own network: loopback, private, link-local, unique-local,
shared, multicast, unspecified, reserved, documentation and cloud-metadata addresses
are refused, also when hidden in IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo
IPv6 forms, or spelled in decimal, octal or hex (the resolver turns those into the
address that is checked). The host is resolved once, when the connection is made, and
the connection goes to the address that was checked (see `transport.connections`), so a DNS answer
that changes between check and connect cannot slip through.

WEBHOOK_ALLOW_PRIVATE_TARGETS=true turns the refusal off (local runs and tests);
WEBHOOK_ALLOWED_PRIVATE_NETWORKS lets chosen internal ranges through.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges `is_global` lets through but that are not public destinations.
_ALSO_INTERNAL = [
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("64:ff9b:1::/48"),  # local-use NAT64
    ipaddress.ip_network("fec0::/10"),  # site-local (deprecated, still routed inside some networks)
    ipaddress.ip_network("168.63.129.16/32"),  # Azure's host endpoint (DHCP, DNS, health, metadata-like)
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class TargetRefused(Exception):
    """The URL may not be called; the message says why, for the attempt log and the API."""


def _translated_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv4-mapped, IPv4-compatible or NAT64 address stands for:
    the packet really goes there, so that address alone decides."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 endpoint of a 6to4 or Teredo address: internal if it is internal."""
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    return None


def _allow_listed(address: IPAddress) -> bool:
    return any(address in ipaddress.ip_network(net) for net in settings.WEBHOOK_ALLOWED_PRIVATE_NETWORKS)


def is_internal(address: IPAddress) -> bool:
    if _allow_listed(address):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        translated = _translated_ipv4(address)
        if translated is not None:
            return is_internal(translated)
        tunnelled = _tunnelled_ipv4(address)
        if tunnelled is not None and is_internal(tunnelled):
            return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or any(address in network for network in _ALSO_INTERNAL if network.version == address.version)
    )


def validate_url_shape(url: str) -> None:
    """Scheme, host and port only, no network."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("The URL must start with http:// or https://.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    if parts.username or parts.password:
        raise TargetRefused("The URL must not contain a user name or password.")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise TargetRefused("The URL has an invalid port.") from None


def resolve_allowed(host: str, port: int) -> list[tuple[int, str]]:
    """Resolve `host` once and return its (family, address) pairs, or raise TargetRefused
    if any of them is internal: one bad answer among good ones is still refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"Cannot resolve host '{host}': {error}") from None
    resolved = []
    for family, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS and is_internal(address):
            raise TargetRefused(
                f"Refused: '{host}' resolves to the internal address {address} "
                "(set WEBHOOK_ALLOWED_PRIVATE_NETWORKS or WEBHOOK_ALLOW_PRIVATE_TARGETS to allow it)."
            )
        resolved.append((family, str(address)))
    return list(dict.fromkeys(resolved))


def check_url(url: str) -> None:
    """For create/update: a clear refusal of URLs whose host is internal now. A host
    that does not resolve yet is accepted; it is checked again at every connection."""
    validate_url_shape(url)
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    parts = urlsplit(url)
    try:
        resolve_allowed(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except TargetRefused as error:
        if str(error).startswith("Cannot resolve"):
            return
        raise
