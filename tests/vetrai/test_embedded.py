"""Embedded servers: shared by the processes using one data folder, stopped with the last of
them, whether it releases them or just exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vetrai.devstack import REDIS, Stack, start_stack
from vetrai.embedded import Process, running
from vetrai.settings import load_settings

HOLD = """
import sys
from vetrai.settings import load_settings
from vetrai.devstack import start_stack
from vetrai.embedded import running
settings = load_settings(data_dir=sys.argv[1], redis_url=None)  # the embedded one, whatever the env
stack = start_stack(settings, say=lambda _: None, database=False)
print(running(stack.settings.core.data_dir.resolve(), "redis").pid, flush=True)
sys.stdin.read()  # holds the server until the test closes its input, then exits without stop()
"""


def _holder(data: Path) -> tuple[subprocess.Popen[str], int]:
    """A process using the embedded Redis of ``data``, and that server's pid."""
    process = subprocess.Popen(  # noqa: S603 - our own code
        [sys.executable, "-c", HOLD, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _embedded_redis(data: Path) -> Stack:
    """This process's stack with the embedded Redis of ``data``, even if REDIS_URL is set."""
    return start_stack(
        load_settings(data_dir=data, redis_url=None), say=lambda _: None, database=False
    )


def test_the_last_process_using_a_server_stops_it_at_exit(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    holder, pid = _holder(data)
    server = Process.of(pid)
    stack = _embedded_redis(data)
    assert running(data.resolve(), REDIS.name) == server  # shared, not a second server
    stack.stop()
    assert server.alive()  # the holder still uses it
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert not server.alive()
    assert running(data.resolve(), REDIS.name) is None


def test_a_server_left_by_a_killed_process_is_reused_then_stopped(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    holder, pid = _holder(data)
    server = Process.of(pid)
    holder.kill()
    holder.wait(timeout=60)
    assert server.alive()
    stack = _embedded_redis(data)
    assert running(data.resolve(), REDIS.name) == server
    stack.stop()
    assert not server.alive()
