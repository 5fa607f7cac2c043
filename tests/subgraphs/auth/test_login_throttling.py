"""Login throttling refuses per (email, address) and per address, and only slows down an email
guessed at from everywhere: nobody can lock an owner out from another address."""

from __future__ import annotations

import secrets

from core.caller import Caller
from subgraphs.auth.service import login_delay
from tests.conftest import SignedClient, unique_email
from tests.subgraphs.auth.builders import LOG_IN, PASSWORD, sign_up
from vetrai.settings import PlatformSettings

WRONG = "wrong horse battery"


def new_address() -> Caller:
    """A caller from an address of its own (Redis keeps counters across test runs)."""
    return Caller(client_ip=f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}")


async def codes(auth: SignedClient, email: str, password: str, caller: Caller) -> list[str]:
    data = await auth.run(LOG_IN, {"email": email, "password": password}, caller)
    return [error["code"] for error in data["logIn"]["errors"]]


async def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out_elsewhere(
    auth: SignedClient,
) -> None:
    attacker, owner = new_address(), new_address()
    email = unique_email()
    await sign_up(auth, email)
    refusals = {"INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"}
    for _ in range(6):
        assert set(await codes(auth, email, WRONG, attacker)) <= refusals
    assert await codes(auth, email, PASSWORD, attacker) == ["TOO_MANY_ATTEMPTS"]
    assert await codes(auth, email, PASSWORD, owner) == []


async def test_failures_for_an_email_from_one_address_lock_only_that_pair(
    auth: SignedClient, settings: PlatformSettings
) -> None:
    attacker = new_address()
    email, other = unique_email(), unique_email()
    await sign_up(auth, email)
    await sign_up(auth, other)
    for _ in range(settings.auth.login_max_failures_per_email_and_address):
        assert await codes(auth, email, WRONG, attacker) == ["INVALID_CREDENTIALS"]
    assert await codes(auth, email, PASSWORD, attacker) == ["TOO_MANY_ATTEMPTS"]
    assert await codes(auth, other, PASSWORD, attacker) == []


async def test_repeated_failures_from_one_address_lock_that_address(
    auth: SignedClient, settings: PlatformSettings
) -> None:
    address = new_address()
    email = unique_email()
    await sign_up(auth, email)
    for _ in range(settings.auth.login_max_failures_per_address):
        await auth.run(LOG_IN, {"email": unique_email(), "password": PASSWORD}, address)
    assert await codes(auth, email, PASSWORD, address) == ["TOO_MANY_ATTEMPTS"]
    assert await codes(auth, email, PASSWORD, new_address()) == []


def test_failures_for_an_email_from_everywhere_only_slow_its_logins_down(
    settings: PlatformSettings,
) -> None:
    after = settings.auth.login_slow_down_after_failures_per_email
    assert login_delay(after - 1, settings) == 0
    assert login_delay(after, settings) == 1
    assert login_delay(after + 2, settings) == 3
    assert login_delay(after + 1000, settings) == settings.auth.login_max_delay_seconds
