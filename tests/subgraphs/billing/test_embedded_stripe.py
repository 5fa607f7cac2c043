"""The embedded Stripe-compatible server: one per data folder, a process of its own on a free
port, gone once its last lease is released."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from vetrai.embedded import acquire, running
from vetrai.embedded_stripe import SECRET_KEY, STRIPE, webhook_secret


def _alive(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1).is_success
    except httpx.HTTPError:
        return False


async def test_two_data_folders_run_two_servers_and_releasing_one_stops_only_it(
    tmp_path: Path,
) -> None:
    first, second = await asyncio.gather(
        asyncio.to_thread(acquire, tmp_path / "a", STRIPE),
        asyncio.to_thread(acquire, tmp_path / "b", STRIPE),
    )
    try:
        assert first.url != second.url
        assert _alive(first.url)
        assert _alive(second.url)
    finally:
        first.release()
    assert not _alive(first.url)
    assert running(tmp_path / "a", STRIPE.name) is None
    assert _alive(second.url)
    second.release()
    second.release()  # releasing twice is harmless
    assert not _alive(second.url)


def test_the_development_webhook_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    secret = webhook_secret(tmp_path)
    assert secret.startswith("whsec_")
    assert len(secret) > 30
    assert webhook_secret(tmp_path) == secret
    assert next(tmp_path.iterdir()).stat().st_mode & 0o077 == 0
