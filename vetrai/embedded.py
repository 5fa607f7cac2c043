"""Embedded servers the stack owns: one per data folder, shared by the processes using it and
stopped when the last one leaves; a record under the data folder finds those of a killed run."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

START_SECONDS = 30
STOP_SECONDS = 30


@dataclass(frozen=True)
class Process:
    """A process by pid and start time (a later process may be given the same pid)."""

    pid: int
    started: float

    @classmethod
    def of(cls, pid: int) -> Process:
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return bool(
                process.create_time() == self.started and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.NoSuchProcess:
            return False


@dataclass(frozen=True)
class Running:
    """What a started server tells its users: its process and its URL."""

    pid: int
    url: str


@dataclass(frozen=True)
class Server:
    """How to start one kind of embedded server in its folder, and how to stop it: the signal
    for its process, or a hook for a server that needs more (``hook(process, folder)``)."""

    name: str
    start: Callable[[Path], Running]
    stop_signal: signal.Signals = signal.SIGTERM
    stop_hook: Callable[[Process, Path], None] | None = None

    def stop(self, process: Process, data: Path) -> None:
        if self.stop_hook is None:
            stop(process, self.stop_signal)
        else:
            self.stop_hook(process, data / self.name)


@dataclass
class _Record:
    server: Process
    url: str
    users: list[Process] = field(default_factory=list)


def _path(data: Path, name: str) -> Path:
    return data / "run" / f"{name}.json"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Held by one process at a time: an exclusive flock on the file at ``path``."""
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _locked(data: Path) -> contextlib.AbstractContextManager[None]:
    (data / "run").mkdir(parents=True, exist_ok=True)
    return locked(data / "run" / ".lock")


def _read(path: Path) -> _Record | None:
    try:
        raw = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return _Record(Process(**raw["server"]), raw["url"], [Process(**user) for user in raw["users"]])


def _write(path: Path, record: _Record) -> None:
    path.write_text(json.dumps(asdict(record)))


def stop(process: Process, sig: signal.Signals = signal.SIGTERM, *, group: bool = False) -> None:
    """Stop ``process`` (with ``group``, every process of its group) with ``sig``, killing it if
    it has not exited within STOP_SECONDS."""
    if not process.alive():
        return
    send = os.killpg if group else os.kill
    send(process.pid, sig)
    deadline = time.monotonic() + STOP_SECONDS
    while process.alive():
        if time.monotonic() > deadline:
            send(process.pid, signal.SIGKILL)
            deadline += STOP_SECONDS
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, os.WNOHANG)  # reap it when it is our child
        time.sleep(0.05)


def spawn(args: list[str], url: str, ready: Callable[[], bool], log: Path | None = None) -> Running:
    """Run ``args`` in a session of its own (Ctrl-C reaches the platform, which stops it once it
    has drained), its output appended to ``log`` if given, and wait until ``ready``."""
    with log.open("ab") if log else contextlib.nullcontext() as output:
        process = subprocess.Popen(  # noqa: S603 - our own servers
            args,
            stdin=subprocess.DEVNULL if log else None,
            stdout=output,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"{args[0]} did not start")
        time.sleep(0.05)
    return Running(process.pid, url)


def running(data: Path, name: str) -> Process | None:
    """The live server ``name`` recorded under ``data``, if any."""
    record = _read(_path(data, name))
    return record.server if record and record.server.alive() else None


@dataclass
class Lease:
    """This process's use of an embedded server; the last lease released stops the server."""

    data: Path
    server: Server
    url: str

    def release(self) -> None:
        atexit.unregister(self.release)
        me = Process.of(os.getpid())
        path = _path(self.data, self.server.name)
        with _locked(self.data):
            record = _read(path)
            if record is None:
                return
            record.users = [user for user in record.users if user.alive() and user != me]
            if record.users and record.server.alive():
                _write(path, record)
                return
            self.server.stop(record.server, self.data)
            path.unlink()


def acquire(data: Path, server: Server) -> Lease:
    """A lease on ``server`` under ``data``: the recorded one if it still runs (a killed run's
    included), else a new one. Released by ``Lease.release`` or at this process's exit."""
    me = Process.of(os.getpid())
    path = _path(data, server.name)
    with _locked(data):
        record = _read(path)
        if record is None or not record.server.alive():
            if record is not None:
                server.stop(record.server, data)  # its process is gone: only its leftovers
            started = server.start(data / server.name)
            record = _Record(Process.of(started.pid), started.url)
        record.users = [user for user in record.users if user.alive() and user != me] + [me]
        _write(path, record)
    lease = Lease(data, server, record.url)
    atexit.register(lease.release)
    return lease
