"""The command line: help on every command, a clear exit on bad settings."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from vetrai.cli import parser

COMMANDS = sorted(
    name
    for action in parser()._actions
    if isinstance(action, argparse._SubParsersAction)
    for name in action.choices
)


def _vetrai(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "vetrai", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )


def test_the_foundation_commands_exist() -> None:
    assert {"up", "subgraph", "migrate"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = _vetrai(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: vetrai {command}")


def test_bad_setting_stops_with_its_name() -> None:
    result = _vetrai("migrate", VETRAI_CONTEXT_TTL="-1")
    assert result.returncode == 1
    assert "VETRAI_CONTEXT_TTL" in result.stderr
    assert "Traceback" not in result.stderr
