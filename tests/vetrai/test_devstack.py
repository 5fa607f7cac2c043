"""The embedded PostgreSQL's system user, created once however many servers start at once."""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor

from vetrai.devstack import ensure_server_user


def test_servers_starting_at_once_create_their_system_user_once() -> None:
    name = f"vetrai-t{secrets.token_hex(3)}"
    try:
        # threads are enough: each opens the lock file on its own, and flock locks per open file
        with ThreadPoolExecutor(8) as pool:
            uids = set(pool.map(lambda _: ensure_server_user(name), range(8)))
        if os.geteuid() != 0:  # pgserver runs PostgreSQL as the caller: no user to create
            assert uids == {None}
            assert name not in {entry.pw_name for entry in pwd.getpwall()}
        else:
            # without the lock each caller's useradd gave the user another uid
            assert uids == {pwd.getpwnam(name).pw_uid}
    finally:
        if os.geteuid() == 0:
            subprocess.run(["userdel", name], check=False, capture_output=True)  # noqa: S603, S607
