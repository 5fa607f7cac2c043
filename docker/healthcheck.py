"""The image's HEALTHCHECK. One image runs every process, so it looks at the container's own
command (PID 1): a router or subgraph must answer ``/health`` on the port it listens on, the
worker must have written the heartbeat ARQ keeps in Redis, a one-shot command is left alone.
Kept light (no application imports for HTTP services): Docker runs it every interval."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

SERVERS = frozenset({"router", "subgraph", "up"})
LISTEN = "0A"  # socket state in /proc/net/tcp
ARQ_HEARTBEAT_SUFFIX = ":health-check"


def vetrai_arguments(cmdline: list[str]) -> list[str]:
    """The arguments after the ``vetrai`` script in a process's command line."""
    for index, part in enumerate(cmdline):
        if Path(part).name == "vetrai":
            return cmdline[index + 1 :]
    return cmdline


def listening_ports(tables: list[str]) -> list[int]:
    """TCP ports listened on in this network namespace (the container's own), lowest first."""
    ports = set()
    for table in tables:
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def server_healthy(ports: list[int]) -> bool:
    if not ports:
        return False  # still starting, or its server stopped
    url = f"http://127.0.0.1:{ports[0]}/health"
    with urllib.request.urlopen(url, timeout=4) as response:
        return bool(response.status == 200)


def worker_healthy() -> bool:
    from redis import Redis

    from subgraphs.kernel.settings import load_settings

    settings = load_settings()
    if not settings.redis_url:
        return False
    heartbeat = settings.queue_name + ARQ_HEARTBEAT_SUFFIX
    return bool(Redis.from_url(settings.redis_url, socket_timeout=4).exists(heartbeat))


def healthy(arguments: list[str], tables: list[str]) -> bool:
    command = arguments[0] if arguments else ""
    if command in SERVERS:
        return server_healthy(listening_ports(tables))
    if command == "worker":
        return worker_healthy()
    return True


def main() -> int:
    cmdline = [p for p in Path("/proc/1/cmdline").read_bytes().decode().split("\0") if p]
    try:
        ok = healthy(vetrai_arguments(cmdline), ["/proc/net/tcp", "/proc/net/tcp6"])
    except Exception as exc:  # any failure to answer is unhealthy, with the reason in the log
        print(f"unhealthy: {exc!r}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
