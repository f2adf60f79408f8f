"""docs/quickstart.md runs as written, and shows the answers the API really gives.

Its steps run in order against a live server: the API key is created with the doc's own
`create_api_key` arguments, each curl command runs in bash (the documented host replaced
by the live server's, `$KEY`, `$SERVICE` and `$INCIDENT` in its environment), and each
answer shown under a command must be the real answer: the same fields, in the same
order, with the same values, except that ids and timestamps are compared by their form
(the doc's were real once, but every run makes new ones). A field the API adds, drops or
renames fails here until the doc shows it (issue 15: `dedup_key` and `external_links`
were missing)."""

import io
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

QUICKSTART_MD = Path(__file__).resolve().parents[1] / "docs" / "quickstart.md"
DOC_HOST = "http://127.0.0.1:8000"
ID = re.compile(r"\b(inc|svc|key|rsp|lnk|whk|evt|dlv)_[0-9A-Z]{26}\b")
TIMESTAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b")

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def code_blocks() -> list[tuple[str, str]]:
    """(language, content) of every fenced block, in the doc's order."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", QUICKSTART_MD.read_text(), flags=re.M | re.S)


def normalized(value):
    """`value` (parsed JSON) with every id replaced by `<prefix_id>` and every timestamp by
    `<timestamp>`, also inside strings (an error message naming an incident)."""
    text = json.dumps(value, ensure_ascii=False)
    text = ID.sub(lambda match: f"<{match[1]}_id>", text)
    return json.loads(TIMESTAMP.sub("<timestamp>", text))


def documented_answer(language: str, block: str) -> tuple[int | None, dict]:
    """A `json` block is the body; a `text` block is `curl -i` output: status line, some
    headers, `...`, a blank line, the body."""
    if language == "json":
        return None, json.loads(block)
    status_line, *_, body = block.strip().splitlines()
    return int(status_line.split()[1]), json.loads(body)


def run_curl(command: str, server_url: str, variables: dict[str, str]) -> tuple[int, dict[str, str], dict]:
    """Run the doc's curl command; (status, headers, parsed body)."""
    command = command.replace(DOC_HOST, server_url)
    assert command.startswith("curl "), command
    # The doc's commands print either the body or (-i) the whole answer; this reads both.
    command = "curl -i " + command.removeprefix("curl ").replace(" -i ", " ", 1)
    env = {"PATH": os.environ["PATH"], **variables}
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    # text=True reads curl's CRLF line ends as "\n".
    head, _, body = done.stdout.partition("\n\n")
    status_line, *header_lines = head.split("\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def create_key_as_documented(command: str) -> tuple[str, str]:
    """Run `create_api_key` with the doc's arguments; (the key, what it printed to stderr)."""
    arguments = shlex.split(re.search(r"manage\.py (create_api_key [^)]*)", command)[1])
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command(*arguments, stdout=stdout, stderr=stderr)
    return stdout.getvalue().strip(), stderr.getvalue()


def test_the_quickstart_answers_are_the_real_answers(live_server):
    blocks = code_blocks()
    variables: dict[str, str] = {}
    checked = []
    previous_doc, previous_real = None, None
    for index, (language, block) in enumerate(blocks):
        if language != "sh":
            continue
        command = block.strip()
        if "create_api_key" in command:
            variables["KEY"], printed = create_key_as_documented(command)
            expected_language, expected = blocks[index + 1]
            assert expected_language == "text"
            assert normalized(printed.strip()) == normalized(expected.strip())
            checked.append("create_api_key")
        elif assignment := re.fullmatch(r"(\w+)=(\S+)", command):
            # "Keep its id (copy yours)": the doc copies the id of the answer above.
            name, value = assignment.groups()
            assert value == previous_doc["id"], (name, value)
            variables[name] = previous_real["id"]
        elif command.startswith("curl "):
            expected_status, expected = documented_answer(*blocks[index + 1])
            status, headers, body = run_curl(command, live_server.url, variables)
            assert headers.get("Content-Type") == "application/json", command
            if expected_status is not None:
                assert status == expected_status, (command, status, body)
            assert json.dumps(normalized(body)) == json.dumps(normalized(expected)), (
                f"docs/quickstart.md shows another answer to\n{command}\nthe real one is:\n"
                + json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            )
            previous_doc, previous_real = expected, body
            checked.append(command.split("\n")[0])
    # Every step ran: the key, the service, the incident, both acknowledges, resolve, timeline.
    assert len(checked) == 7, checked


def test_declaring_again_answers_200_with_the_same_incident(live_server, django_db_blocker):
    """The doc says so of step 3's command: "the answer is `HTTP/1.1 200 OK` with the same
    incident (same `id`, still `version` 1)"."""
    blocks = code_blocks()
    (key_command,) = [block for language, block in blocks if language == "sh" and "create_api_key" in block]
    (declare,) = [block.strip() for language, block in blocks if "/api/v1/incidents \\" in block]
    assert re.search(r"the answer is `HTTP/1.1 200 OK` with the same\s+incident", QUICKSTART_MD.read_text())
    key, _ = create_key_as_documented(key_command)
    variables = {"KEY": key, "SERVICE": ""}
    declare = declare.replace('"service_id": "\'"$SERVICE"\'", ', "")  # no service needed here
    first = run_curl(declare, live_server.url, variables)
    again = run_curl(declare, live_server.url, variables)
    assert (first[0], again[0]) == (201, 200)
    assert again[2] == first[2] and again[2]["version"] == 1
