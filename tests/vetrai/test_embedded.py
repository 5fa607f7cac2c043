"""Embedded servers: shared by the processes using one data folder, stopped with the last of
them, whether it releases them or just exits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from vetrai.devstack import REDIS
from vetrai.embedded import Process, Server, acquire, running
from vetrai.embedded_s3 import PORTS, S3, SOCKETS
from vetrai.embedded_stripe import STRIPE

SERVERS = {server.name: server for server in (REDIS, STRIPE, S3)}

HOLD = """
import sys
from pathlib import Path
from tests.vetrai.test_embedded import SERVERS
from vetrai.embedded import acquire, running
data, name = Path(sys.argv[1]), sys.argv[2]
acquire(data, SERVERS[name])
print(running(data, name).pid, flush=True)
sys.stdin.read()  # holds the server until the test closes its input, then exits without release
"""


def _holder(data: Path, server: Server) -> tuple[subprocess.Popen[str], int]:
    """A process using the embedded ``server`` of ``data``, and that server's pid."""
    process = subprocess.Popen(  # noqa: S603 - our own code
        [sys.executable, "-c", HOLD, str(data), server.name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


@pytest.mark.parametrize("server", SERVERS.values(), ids=SERVERS)
def test_the_last_process_using_a_server_stops_it_at_exit(tmp_path: Path, server: Server) -> None:
    data = (tmp_path / ".data").resolve()
    holder, pid = _holder(data, server)
    process = Process.of(pid)
    lease = acquire(data, server)
    assert running(data, server.name) == process  # shared, not a second server
    lease.release()
    assert process.alive()  # the holder still uses it
    assert holder.stdin is not None
    holder.stdin.close()
    assert holder.wait(timeout=60) == 0
    assert not process.alive()
    assert running(data, server.name) is None


@pytest.mark.parametrize("server", SERVERS.values(), ids=SERVERS)
def test_a_server_left_by_a_killed_process_is_reused_then_stopped(
    tmp_path: Path, server: Server
) -> None:
    data = (tmp_path / ".data").resolve()
    holder, pid = _holder(data, server)
    process = Process.of(pid)
    holder.kill()
    holder.wait(timeout=60)
    assert process.alive()
    lease = acquire(data, server)
    assert running(data, server.name) == process
    lease.release()
    assert not process.alive()


def _sockets(ports: list[int]) -> list[Path]:
    return [path for port in ports for path in SOCKETS.glob(f"seaweedfs-*-{port}.sock")]


def test_the_shared_s3_server_is_killed_with_its_group_and_leaves_no_sockets(
    tmp_path: Path,
) -> None:
    data = (tmp_path / ".data").resolve()
    lease = acquire(data, S3)
    ports = json.loads((data / S3.name / PORTS).read_text())
    assert _sockets(ports)
    leader = running(data, S3.name)
    assert leader is not None
    group = [leader, *(Process.of(p.pid) for p in psutil.Process(leader.pid).children(True))]
    lease.release()
    assert not any(process.alive() for process in group)
    assert _sockets(ports) == []


def test_a_dead_s3_servers_sockets_are_removed_before_the_next_one_starts(tmp_path: Path) -> None:
    data = (tmp_path / ".data").resolve()
    lease = acquire(data, S3)
    ports = json.loads((data / S3.name / PORTS).read_text())
    leader = running(data, S3.name)
    assert leader is not None
    os.killpg(leader.pid, signal.SIGKILL)  # the server dies; its record stays
    while leader.alive():
        with contextlib.suppress(ChildProcessError):
            os.waitpid(leader.pid, os.WNOHANG)
    assert _sockets(ports)
    again = acquire(data, S3)
    assert _sockets(ports) == []
    again.release()
    lease.release()
