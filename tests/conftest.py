"""Shared fixtures: every test gets its own state directory and never touches ~/.local/state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("REDDOOR_STATE_DIR", str(state))
    monkeypatch.delenv("REDDOOR_HOME", raising=False)
    monkeypatch.setenv("REDDOOR_TESTING", "1")
    return state


def run_cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 120
):
    """Run `reddoor ARGS` as a real subprocess; returns the CompletedProcess (bytes)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():
    return run_cli
