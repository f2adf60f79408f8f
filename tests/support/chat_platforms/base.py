"""What a simulator answers (a Verdict) and what people would see of an accepted
message (a Seen: its visible text, its live links, who it pings)."""

import json
import re
from dataclasses import dataclass, field

# Invisible characters formats put in incident text to break markup; a reader does
# not see them, so the visible text is compared without them.
INVISIBLE = re.compile("[\u200b\u2060]")


@dataclass
class Seen:
    text: str = ""  # everything visible, one piece per line
    links: list[str] = field(default_factory=list)  # live link targets
    mentions: list[str] = field(default_factory=list)  # "user:U123", "everyone", "users/all", ...

    def add_text(self, text: str) -> None:
        self.text += INVISIBLE.sub("", text) + "\n"


@dataclass
class Verdict:
    status: int
    body: bytes
    content_type: str = "application/json"
    seen: Seen | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def json_verdict(status: int, answer, seen: Seen | None = None) -> Verdict:
    return Verdict(status, json.dumps(answer).encode(), "application/json", seen)


def text_verdict(status: int, answer: str, seen: Seen | None = None) -> Verdict:
    return Verdict(status, answer.encode(), "text/plain; charset=utf-8", seen)


def units(text: str) -> int:
    """UTF-16 code units: Telegram's count, and the strict reading of "characters"."""
    return len(text.encode("utf-16-le")) // 2


def parse_json(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


# --- CommonMark-style Markdown (Teams, Discord) -----------------------------------------

ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# Escaped characters are swapped for private-use stand-ins while looking for markup,
# so `\[x\](…)` is never read as a link.
_STAND_IN = 0xF0000


def hide_escapes(text: str) -> str:
    return ESCAPED.sub(lambda match: chr(_STAND_IN + ord(match.group(1))), text)


def show_escapes(text: str) -> str:
    return "".join(chr(ord(char) - _STAND_IN) if ord(char) >= _STAND_IN else char for char in text)


MASKED_LINK = re.compile(r"\[([^\[\]]*)\]\(\s*<?([^\s()<>]+)>?[^)]*\)")
AUTOLINK = re.compile(r"<((?:https?|mailto|tg):[^\s<>]+)>")


def markdown_links(hidden: str) -> list[str]:
    """Live link targets in Markdown whose escapes are hidden (bare URLs, shown as
    themselves, are not counted: they cannot pass for anything else)."""
    return [match.group(2) for match in MASKED_LINK.finditer(hidden)] + AUTOLINK.findall(hidden)


def markdown_visible(hidden: str) -> str:
    return show_escapes(MASKED_LINK.sub(lambda match: match.group(1), hidden))
