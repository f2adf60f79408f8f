"""Prefixed, time-sortable identifiers (`inc_01J...`), ULID-style.

26 Crockford base32 characters: 48 bits of milliseconds since the epoch, then 80
random bits. Ids made later sort after ids made earlier (to the millisecond), so
"newest first" is an index scan on the primary key. Within one process ids are
strictly increasing: in the same millisecond (or if the clock steps back) the
random part of the previous id is incremented, as in the ULID spec's monotonic mode.
"""

import secrets
import threading
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80

_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _next_parts() -> tuple[int, int]:
    global _last_ms, _last_random
    with _lock:
        ms = int(time.time() * 1000)
        if ms > _last_ms:
            entropy = secrets.randbits(_RANDOM_BITS)
        else:
            ms, entropy = _last_ms, _last_random + 1
            if entropy >> _RANDOM_BITS:  # the random part overflowed: borrow the next millisecond
                ms, entropy = ms + 1, secrets.randbits(_RANDOM_BITS)
        _last_ms, _last_random = ms, entropy
        return ms, entropy


def ulid() -> str:
    ms, entropy = _next_parts()
    value = (ms << _RANDOM_BITS) | entropy
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"
