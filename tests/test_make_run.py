"""`make run` as a new operator starts it: PUBLIC_BASE_URL (the links in chat messages and
other formats) follows PORT unless set. The recipe runs with a stand-in virtualenv whose
python does nothing and whose honcho prints the environment the processes would get."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def stand_in_venv(tmp_path) -> Path:
    if not shutil.which("make"):
        pytest.skip("no make on this machine")
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "honcho").write_text('#!/bin/sh\necho "PORT=$PORT PUBLIC_BASE_URL=$PUBLIC_BASE_URL"\n')
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    (tmp_path / "venv" / ".installed").touch()  # newer than requirements.txt: nothing to install
    return tmp_path / "venv"


def make_run(venv: Path, **environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ("PORT", "PUBLIC_BASE_URL")}
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "run", f"VENV={venv}"],
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_public_base_url_follows_port(stand_in_venv):
    out = make_run(stand_in_venv, PORT="8101")
    assert "PORT=8101 PUBLIC_BASE_URL=http://127.0.0.1:8101" in out
    assert "Admin: http://127.0.0.1:8101/admin/" in out


def test_the_defaults_and_an_explicit_public_base_url(stand_in_venv):
    assert "PORT=8000 PUBLIC_BASE_URL=http://127.0.0.1:8000" in make_run(stand_in_venv)
    out = make_run(stand_in_venv, PORT="8101", PUBLIC_BASE_URL="https://ops.example.com")
    assert "PUBLIC_BASE_URL=https://ops.example.com" in out
