"""Each format's body for each case equals its golden file, byte for byte; each
format's options are checked; rendering is pure and deterministic."""

import json
import os
import re

import pytest

from webhooks import formats
from webhooks.formats import slack
from webhooks.tests.format_cases import CASES, golden_bytes, golden_path, render_case, render_case_messages

# UPDATE_GOLDEN=1 rewrites the golden files from the current code (then review the diff).
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("format_name", formats.NAMES)
def test_body_matches_its_golden_file(format_name, case):
    messages = render_case_messages(format_name, case)
    for index, message in enumerate(messages):
        path = golden_path(format_name, case, index)
        if UPDATE:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(json.loads(message.body), indent=2, ensure_ascii=False) + "\n")
        assert message.body == golden_bytes(format_name, case, index), (format_name, case, index)
    assert not golden_path(format_name, case, len(messages)).exists()  # no message missing
    assert render_case_messages(format_name, case) == messages  # the same input, the same bytes


def test_opsknight_format_is_the_stored_payload_itself():
    from webhooks.formats.opsknight import event_body

    event = CASES["resolved"]
    stored = event_body(
        event_id=event["id"],
        event_type=event["event"],
        timestamp=None,
        actor=event["actor"],
        incident=event["incident"],
    ).replace(b'"timestamp":null', f'"timestamp":"{event["timestamp"]}"'.encode())
    assert render_case("opsknight", "resolved") == stored


def body_of(format_name: str, case: str) -> dict:
    return json.loads(render_case(format_name, case))


def test_chat_messages_carry_title_status_severity_service_assignee_and_link():
    link = "https://ops.example.com/admin/incidents/incident/inc_01GOLDEN000000000000000001/change/"
    for format_name in ("slack", "msteams", "google_chat", "discord", "telegram"):
        # Telegram puts a word joiner after each `@` of incident text (no accidental @mentions).
        text = render_case(format_name, "triggered").decode().replace("\u2060", "")
        for fact in ("critical", "triggered", "API Gateway", "Ada Lovelace", "INC-42", link):
            assert fact in text, (format_name, fact)
    # Each escapes the title for its own markup.
    assert "Payments &amp; checkout &lt;EU&gt; return 502" in body_of("slack", "triggered")["text"]
    assert "Payments &amp; checkout &lt;EU&gt; return 502" in body_of("telegram", "triggered")["text"]
    assert body_of("discord", "triggered")["embeds"][0]["description"].startswith(
        "**Payments & checkout \\<EU\\> return 502**"
    )


def test_colour_follows_severity_and_resolved_is_green():
    assert body_of("slack", "triggered")["attachments"][0]["color"] == "#D92D20"
    assert body_of("slack", "resolved")["attachments"][0]["color"] == "#12B76A"
    assert body_of("discord", "triggered")["embeds"][0]["color"] == 0xD92D20
    card = body_of("msteams", "triggered")["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["body"][0]["color"] == "Attention"


def test_private_incident_messages_name_only_the_id():
    for format_name in ("slack", "msteams", "google_chat", "discord", "telegram"):
        text = render_case(format_name, "private_triggered").decode()
        assert "inc_01GOLDEN000000000000000002" in text
        assert "private" in text


def test_long_text_is_cut_to_each_platform_limit():
    # The full set, at every field's maximum and against each platform's simulator, is
    # webhooks/formats/tests/test_chat_limits.py.
    event = json.loads(json.dumps(CASES["triggered"]))
    event["incident"]["summary"] = "x" * 10_000
    event["incident"]["title"] = "t" * 500
    context = formats.RenderContext(incident_url="https://ops.example.com/x")
    discord_body = json.loads(formats.render("discord", event=event, options={}, context=context))
    assert len(discord_body["embeds"][0]["description"]) == 4096
    assert "t" * 500 in discord_body["content"]
    telegram_body = json.loads(formats.render("telegram", event=event, options={"chat_id": 1}, context=context))
    assert "t" * 500 in telegram_body["text"] and len(telegram_body["text"]) < 4096 + 200  # markup not counted


def test_discord_pings_only_the_configured_mention():
    # The golden incident's assignee is a responder with a Discord id: it alone is pinged.
    assert body_of("discord", "triggered")["allowed_mentions"] == {"parse": [], "users": ["80351110224678912"]}
    unassigned = {**CASES["triggered"], "incident": {**CASES["triggered"]["incident"], "assignee": None}}
    context = formats.RenderContext(incident_url="https://ops.example.com/x")
    for mention, allowed in [
        ("@here", {"parse": ["everyone"]}),
        ("<@123>", {"parse": [], "users": ["123"]}),
        ("<@&456>", {"parse": [], "roles": ["456"]}),
    ]:
        body = json.loads(formats.render("discord", event=unassigned, options={"mention": mention}, context=context))
        assert body["allowed_mentions"] == allowed
        assert body["content"].startswith(mention + " ")


# --- Options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "format_name, options",
    [
        ("opsknight", {}),
        ("slack", {}),
        ("slack", {"mention": "<!channel>"}),
        ("msteams", {}),
        ("google_chat", {}),
        ("discord", {"username": "Ops bot", "mention": "<@&42>"}),
        ("telegram", {"chat_id": "-1001234567890"}),
        ("telegram", {"chat_id": -1001234567890, "message_thread_id": 7, "disable_notification": True}),
        ("telegram", {"chat_id": "@ops_alerts"}),
        ("incidentio", {}),
    ],
)
def test_valid_options_are_kept(format_name, options):
    assert formats.validate_options(format_name, options) == options


@pytest.mark.parametrize(
    "format_name, options, bad",
    [
        ("opsknight", {"chat_id": "1"}, "chat_id"),
        ("slack", {"mention": ""}, "mention"),
        ("slack", {"mention": "a\nb"}, "mention"),
        ("slack", {"channel": "#ops"}, "channel"),
        ("msteams", {"mention": "x"}, "mention"),
        ("google_chat", {"thread": "x"}, "thread"),
        ("discord", {"username": "my discord bot"}, "username"),
        ("discord", {"mention": "everyone"}, "mention"),
        ("discord", {"username": 5}, "username"),
        ("telegram", {}, "chat_id"),
        ("telegram", {"chat_id": "general"}, "chat_id"),
        ("telegram", {"chat_id": True}, "chat_id"),
        ("telegram", {"chat_id": "1", "message_thread_id": "7"}, "message_thread_id"),
        ("telegram", {"chat_id": "1", "disable_notification": "yes"}, "disable_notification"),
        ("telegram", {"chat_id": "1", "parse_mode": "Markdown"}, "parse_mode"),
        ("incidentio", {"secret": "x"}, "secret"),
    ],
)
def test_bad_options_name_the_option(format_name, options, bad):
    with pytest.raises(formats.OptionsError) as raised:
        formats.validate_options(format_name, options)
    assert bad in raised.value.errors


def test_options_must_be_an_object():
    with pytest.raises(formats.OptionsError) as raised:
        formats.validate_options("slack", ["mention"])
    assert "format_options" in raised.value.errors


def test_an_unknown_format_lists_the_valid_ones():
    with pytest.raises(formats.UnknownFormat, match="Valid formats: opsknight, slack, msteams"):
        formats.validate_options("mattermost", {})


def test_unknown_options_are_refused_with_the_known_ones():
    with pytest.raises(formats.OptionsError) as raised:
        slack.validate_options({"colour": "red"})
    assert "known: mention" in raised.value.errors["colour"]


def test_examples_in_docs_formats_md_are_the_golden_files():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "formats.md").read_text()
    examples = re.findall(r"<!-- golden: (\w+)/(\w+) -->\n```json\n(.*?)\n```", docs, flags=re.DOTALL)
    assert len(examples) >= 6
    for format_name, case, text in examples:
        assert formats.common.dumps(json.loads(text)) == golden_bytes(format_name, case), (format_name, case)
