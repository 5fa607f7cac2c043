"""Benchmarks that need the platform's servers: the embedded ones, under a folder of their own
that is removed afterwards."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from vetrai.devstack import start_stack
from vetrai.settings import PlatformSettings, load_settings


def run_on_stack(bench: Callable[[PlatformSettings], Coroutine[Any, Any, None]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="vetrai-bench-"))
    stack = start_stack(
        load_settings(environment="test", data_dir=folder / ".data"), say=lambda _: None
    )
    try:
        asyncio.run(bench(stack.settings))
    finally:
        stack.stop()
        shutil.rmtree(folder, ignore_errors=True)
