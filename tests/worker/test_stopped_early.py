"""A worker stopped before its startup ran (a deployment stopped at once) still shuts down
cleanly."""

from __future__ import annotations

import asyncio

from vetrai import worker as workers
from vetrai.settings import PlatformSettings


async def test_a_worker_stopped_before_it_started_shuts_down_cleanly(
    settings: PlatformSettings,
) -> None:
    running = workers.create_worker(settings, poll_delay=0.02)
    task = asyncio.create_task(workers.run(running))
    workers.stop(running)
    await task
    assert task.exception() is None
