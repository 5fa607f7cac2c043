"""The embedded Stripe-compatible server: a process of its own on a free port, gone once
stopped."""

from __future__ import annotations

import asyncio

import httpx

from vetrai.embedded_stripe import SECRET_KEY, start_embedded_stripe


def _alive(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/customers", auth=(SECRET_KEY, ""), timeout=1).is_success
    except httpx.HTTPError:
        return False


async def test_two_servers_run_side_by_side_and_stop_ends_each() -> None:
    first, second = await asyncio.gather(
        asyncio.to_thread(start_embedded_stripe), asyncio.to_thread(start_embedded_stripe)
    )
    try:
        assert first.url != second.url
        assert _alive(first.url)
        assert _alive(second.url)
    finally:
        first.stop()
    assert not _alive(first.url)
    assert _alive(second.url)
    second.stop()
    second.stop()  # stopping twice is harmless
    assert not _alive(second.url)
