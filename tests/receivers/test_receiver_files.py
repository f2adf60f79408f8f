"""The receiver examples stay in step with what is tested elsewhere: their verification
code is the doc snippets' (copied, so that each example folder stands alone), the two
Python examples share one core, and they pin the versions this project runs."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECEIVERS = ROOT / "docs" / "receivers"
SNIPPETS = ROOT / "docs" / "snippets"
PYTHON_EXAMPLES = ["python-django", "python-flask"]
PYTHON_SNIPPETS = ["verify_standardwebhooks.py", "verify_opsknight_signature.py"]
COPIES = [
    *[(SNIPPETS / name, RECEIVERS / example / name) for example in PYTHON_EXAMPLES for name in PYTHON_SNIPPETS],
    (SNIPPETS / "verify.js", RECEIVERS / "node-express" / "verify.js"),
    (RECEIVERS / "python-flask" / "opsknight_receiver.py", RECEIVERS / "python-django" / "opsknight_receiver.py"),
]


@pytest.mark.parametrize(("source", "copy"), COPIES, ids=[str(copy.relative_to(RECEIVERS)) for _, copy in COPIES])
def test_shared_files_are_exact_copies(source, copy):
    assert copy.read_text() == source.read_text(), f"update {copy.relative_to(ROOT)} from {source.relative_to(ROOT)}"


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)", line.strip()):
            found[match[1].lower()] = match[2]
    return found


@pytest.mark.parametrize("example", PYTHON_EXAMPLES)
def test_python_examples_pin_the_versions_the_tests_run(example):
    """The tests run the examples in this project's environment: same versions."""
    project = pins(ROOT / "requirements.txt") | pins(ROOT / "requirements-dev.txt")
    required = pins(RECEIVERS / example / "requirements.txt")
    assert required, "the example pins nothing"
    assert {name: project.get(name) for name in required} == required


def test_node_example_pins_express_exactly_and_locks_it():
    package = json.loads((RECEIVERS / "node-express" / "package.json").read_text())
    lock = json.loads((RECEIVERS / "node-express" / "package-lock.json").read_text())
    version = package["dependencies"]["express"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin an exact version"
    assert lock["packages"]["node_modules/express"]["version"] == version
    assert lock["packages"][""]["dependencies"] == package["dependencies"]


def test_every_example_is_documented_and_linked():
    index = (RECEIVERS / "README.md").read_text()
    for example in [*PYTHON_EXAMPLES, "node-express"]:
        assert (RECEIVERS / example / "README.md").is_file()
        assert f"]({example}/)" in index or f"]({example}/README.md)" in index, example
    assert "](receivers/)" in (ROOT / "docs" / "webhooks.md").read_text()
    assert "](docs/receivers/)" in (ROOT / "README.md").read_text()
