"""The image's HEALTHCHECK. One image runs every process, so it looks at the container's own
command (PID 1, or the PID given): a router, subgraph or worker must answer ``/health`` on the
port it listens on; a one-shot command passes.
Kept light (no application imports for HTTP services): Docker runs it every interval."""

from __future__ import annotations

import re
import sys
import urllib.request
from pathlib import Path

SERVERS = frozenset({"router", "subgraph", "up", "worker"})
LISTEN = "0A"  # socket state in /proc/net/tcp
_SOCKET = re.compile(r"^socket:\[(\d+)\]$")


def vetrai_arguments(cmdline: list[str]) -> list[str]:
    """The arguments after the ``vetrai`` script (or ``-m vetrai``) in a command line."""
    for index, part in enumerate(cmdline):
        if Path(part).name == "vetrai":
            return cmdline[index + 1 :]
    return cmdline


def listening_ports(proc: Path) -> list[int]:
    """TCP ports the process at ``proc`` (``/proc/<pid>``) listens on, lowest first."""
    inodes = set()
    for fd in (proc / "fd").iterdir():
        found = _SOCKET.match(str(fd.readlink())) if fd.is_symlink() else None
        if found:
            inodes.add(found[1])
    ports = set()
    for table in (proc / "net" / "tcp", proc / "net" / "tcp6"):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def server_healthy(ports: list[int]) -> bool:
    if not ports:
        return False  # still starting, or its server stopped
    with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/health", timeout=4) as response:
        return bool(response.status == 200)


def healthy(proc: Path) -> bool:
    cmdline = [part for part in (proc / "cmdline").read_bytes().decode().split("\0") if part]
    arguments = vetrai_arguments(cmdline)
    command = arguments[0] if arguments else ""
    if command in SERVERS:
        return server_healthy(listening_ports(proc))
    return True


def main(argv: list[str]) -> int:
    proc = Path("/proc") / (argv[0] if argv else "1")
    try:
        ok = healthy(proc)
    except Exception as exc:  # any failure to answer is unhealthy, with the reason in the log
        print(f"unhealthy: {exc!r}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
