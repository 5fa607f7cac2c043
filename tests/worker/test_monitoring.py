"""A worker process answers /health and /metrics like every other process."""

from __future__ import annotations

import asyncio
import secrets

import httpx

from vetrai import worker as workers
from vetrai.settings import PlatformSettings


async def test_worker_health_follows_its_run_and_metrics_count_jobs(
    settings: PlatformSettings,
) -> None:
    own_queue = settings.replace(queue_name=f"test:{secrets.token_hex(4)}")
    worker = workers.create_worker(own_queue)
    app = workers.monitoring_app(worker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        assert (await client.get("/health")).status_code == 503  # not running yet
        running = asyncio.create_task(workers.run(worker))
        for _ in range(100):
            if (await client.get("/health")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert (await client.get("/health")).json() == {"status": "ok", "service": "worker"}
        worker.jobs_complete, worker.jobs_failed = 3, 1
        metrics = (await client.get("/metrics")).text
        workers.stop(worker)
        await running
    assert 'vetrai_worker_jobs_total{result="complete"} 3.0' in metrics
    assert 'vetrai_worker_jobs_total{result="failed"} 1.0' in metrics
    assert "vetrai_worker_jobs_running 0.0" in metrics
