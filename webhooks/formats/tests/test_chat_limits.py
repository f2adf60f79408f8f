"""Every chat format, for every event, public and private, with every text field at its
maximum and full of other platforms' markup: each platform's simulator (real HTTP on
127.0.0.1) accepts 100 %, nothing in incident text links or mentions, the title's first
line and the reference are always there."""

import json

import pytest
import requests

from tests.support.chat_platforms import PlatformSimulator, check_body
from webhooks.formats.common import joins_previous, person
from webhooks.formats.discord import escape
from webhooks.formats.tests.chat_cases import (
    CHAT_FORMATS,
    EVENT_TYPES,
    OPTIONS,
    PRIVATE,
    REFERENCE,
    URL,
    VARIANTS,
    event,
    incident,
    render,
)  # fmt: skip

INVISIBLE = str.maketrans("", "", "\u200b\u2060")


@pytest.fixture(scope="module")
def simulators():
    running = {name: PlatformSimulator(name) for name in CHAT_FORMATS}
    yield running
    for simulator in running.values():
        simulator.close()


def deliver(simulator: PlatformSimulator, body: bytes):
    answer = requests.post(simulator.url(), data=body, headers={"Content-Type": "application/json"}, timeout=10)
    return answer, (simulator.accepted[-1] if answer.ok else simulator.refused[-1][1])


def visible(text: str) -> str:
    return text.translate(INVISIBLE)


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("format_name", CHAT_FORMATS)
def test_every_event_at_maximum_length_is_accepted_and_inert(simulators, format_name, variant):
    simulator = simulators[format_name]
    _, expected_mentions = OPTIONS[format_name]
    for multiline in (False, True):
        source = incident(variant, multiline_title=multiline)
        first_line = visible(source["title"].split("\n")[0].strip())
        for event_type in EVENT_TYPES:
            body = render(format_name, event(event_type, source, actor_name="Grace <!channel> @everyone"))
            answer, seen = deliver(simulator, body)
            assert answer.ok, (event_type, answer.status_code, answer.text[:300])
            assert set(seen.links) <= {URL}, seen.links
            assert sorted(seen.mentions) == sorted(expected_mentions)
            assert first_line in seen.text, "the title's first line is whole"
            assert REFERENCE in seen.text
            # The summary is shortened first: the other facts stay whole.
            assert visible(source["service"]["name"]) in seen.text
            assert visible(source["assignee"]["name"]) in seen.text


@pytest.mark.parametrize("format_name", CHAT_FORMATS)
def test_private_incidents_carry_only_their_id(simulators, format_name):
    for event_type in EVENT_TYPES:
        answer, seen = deliver(simulators[format_name], render(format_name, event(event_type, PRIVATE)))
        assert answer.ok, answer.text
        assert PRIVATE["id"] in seen.text
        assert set(seen.links) <= {URL}
        configured = {"slack": ["here"], "discord": ["role:42"]}.get(format_name, [])
        assert seen.mentions == configured


@pytest.mark.parametrize("format_name", CHAT_FORMATS)
def test_an_assignee_given_as_a_string_is_named_and_never_mentioned(format_name):
    source = incident("hostile", assignee_as_string=True)
    verdict = check_body(format_name, render(format_name, event("incident.acknowledged", source)))
    assert verdict.ok
    configured = {"slack": ["here"], "discord": ["role:42"]}.get(format_name, [])
    assert verdict.seen.mentions == configured
    assert source["assignee"] in verdict.seen.text


@pytest.mark.parametrize("mention", ["@here", "@everyone"])
def test_discord_everyone_pings_carry_no_incident_text_in_content(mention):
    source = incident("hostile")
    body = json.loads(render("discord", event("incident.triggered", source), options={"mention": mention}))
    assert body["allowed_mentions"] == {"parse": ["everyone"], "users": ["123456789012345678"]}
    assert body["content"] == f"{mention} <@123456789012345678> 🔴 Triggered · INC-42"
    verdict = check_body("discord", json.dumps(body).encode())
    assert verdict.ok and sorted(verdict.seen.mentions) == sorted([mention[1:], "user:123456789012345678"])


def test_discord_allowed_mentions_list_exactly_the_configured_ones():
    no_handles = incident("hostile", assignee_as_string=True)
    for mention, allowed in [
        (None, {"parse": []}),
        ("<@123>", {"parse": [], "users": ["123"]}),
        ("<@&456>", {"parse": [], "roles": ["456"]}),
        ("@here", {"parse": ["everyone"]}),
    ]:
        options = {"mention": mention} if mention else {}
        body = json.loads(render("discord", event("incident.triggered", no_handles), options=options))
        assert body["allowed_mentions"] == allowed


def test_shortening_is_by_the_units_each_platform_counts():
    source = incident("emoji")
    telegram = json.loads(render("telegram", event("incident.triggered", source)))
    verdict = check_body("telegram", json.dumps(telegram).encode())
    # 4,096 UTF-16 units after entity parsing, and not far below: the summary filled the room.
    shown = verdict.seen.text.rstrip("\n")
    assert 4000 < len(shown.encode("utf-16-le")) // 2 <= 4096
    discord = json.loads(render("discord", event("incident.triggered", source)))["embeds"][0]
    assert len(discord["description"].encode("utf-16-le")) // 2 <= 4096
    assert discord["description"].endswith("…")


def test_cuts_never_split_a_letter_or_an_emoji():
    for variant in ("emoji", "combining", "rtl"):
        source = incident(variant)
        body = json.loads(render("discord", event("incident.triggered", source)))
        kept = body["embeds"][0]["description"].rsplit("\n\n", 1)[1].removesuffix("…")
        original = escape(source["summary"])
        assert original.startswith(kept)
        assert not joins_previous(original, len(kept)), variant


def test_person_accepts_both_payload_shapes_and_drops_unsafe_handles():
    assert person(None) is None
    assert person("ada@example.com").name == "ada@example.com"
    ada = person({**incident("hostile")["assignee"], "slackUserId": "U1>|<!channel", "discordUserId": "1 <@2>"})
    assert ada.slack_user_id is None and ada.discord_user_id is None
    assert ada.teams_upn == "ada@contoso.example" and ada.telegram_username == "ada_lovelace"
    assert person({"id": "rsp_1", "name": "", "email": "e@x.example"}).name == "e@x.example"
