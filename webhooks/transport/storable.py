"""Whatever a receiver answers, made fit to store: PostgreSQL refuses NUL in text and
JSON, and lone surrogates in any string, so one odd answer could otherwise fail the
whole batch's recording. Also bounds every length."""

MAX_HEADERS = 100
MAX_HEADER_NAME = 200
MAX_HEADER_VALUE = 4096
MAX_ERROR_MESSAGE = 1000


def text(value: str | bytes, limit: int) -> str:
    """`value` as storable text of at most `limit` characters: bytes decoded as UTF-8
    (invalid sequences replaced), NUL written as the four characters `\\x00`."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    else:
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value.replace("\x00", "\\x00")[:limit]


def header_text(value: str, limit: int) -> str:
    """A header name or value as http.client gives it (the raw bytes read as Latin-1),
    as the UTF-8 text the receiver most likely meant, storable."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return text(value, limit)
    return text(raw, limit)


def headers(values) -> dict[str, str]:
    """At most MAX_HEADERS (name, value) pairs, each storable and bounded."""
    stored: dict[str, str] = {}
    for name, value in list(values.items())[:MAX_HEADERS]:
        stored[header_text(str(name), MAX_HEADER_NAME)] = header_text(str(value), MAX_HEADER_VALUE)
    return stored


def error_message(message: str) -> str:
    return text(message, MAX_ERROR_MESSAGE)
