"""Prefixed, time-sortable identifiers (`inc_01J...`), ULID-style.

26 Crockford base32 characters: 48 bits of milliseconds since the epoch, then 80
random bits. Ids made later sort after ids made earlier (to the millisecond), so
"newest first" is an index scan on the primary key.
"""

import secrets
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid() -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"
