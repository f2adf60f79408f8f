"""incident.io's ids are ULIDs: each OpsKnight id maps to one, the same every time."""

import hashlib

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def is_ulid(text: str) -> bool:
    # 26 Crockford characters; the first at most 7 (128 bits).
    return len(text) == 26 and all(char in CROCKFORD for char in text) and text[0] <= "7"


def derived_ulid(name: str) -> str:
    """26 Crockford characters from the first 128 bits of SHA-256(name)."""
    number = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:16], "big")
    return "".join(CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def ulid_for(opsknight_id: str) -> str:
    """The ULID inside a prefixed OpsKnight id (`inc_01J…` → `01J…`: `inc_` + it finds the
    incident again); an id not of that form (samples, docs) gets one derived from it."""
    _, _, rest = opsknight_id.partition("_")
    return rest if is_ulid(rest) else derived_ulid(opsknight_id)
