"""When auth's keys, tenancy or keys cannot answer, the router says 503 (try again), never 500;
and it asks for the published keys at most once per interval however many unknown keys it sees,
and not at all for a token of a key it knows."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from uuid import uuid4

import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from router import identity
from router.config import RateLimits, RouterConfig
from subgraphs.auth.signing import TokenSigner, keys_path
from tests.router.platform.builders import CREATE, CURRENT, new_key
from tests.router.platform.conftest import RouterClient, router_client, router_config, served
from vetrai.settings import PlatformSettings

ME = "{ me { id } }"


class Stub:
    """A service answering every request with ``answer()``; counts the requests."""

    def __init__(self, answer: Callable[[], Response]) -> None:
        self.requests = 0
        self.answer = answer

    async def handle(self, _: Request) -> Response:
        self.requests += 1
        return self.answer()


@asynccontextmanager
async def stub(answer: Callable[[], Response]) -> AsyncIterator[tuple[Stub, str]]:
    service = Stub(answer)
    app = Starlette(routes=[Route("/{path:path}", service.handle, methods=["GET", "POST"])])
    async with served(app) as base:
        yield service, base


def broken() -> Response:
    return PlainTextResponse("upstream is down", status_code=500)


@pytest.fixture(scope="module")
def signer(settings: PlatformSettings) -> TokenSigner:
    return TokenSigner(
        keys_path(settings), issuer=settings.core.jwt_issuer, audience=settings.core.jwt_audience
    )


def _token(signer: TokenSigner, user: str) -> str:
    now = int(time.time())
    return signer.sign({"sub": user, "sid": str(uuid4()), "iat": now, "exp": now + 300})


def _unknown_key_token(user: str, settings: PlatformSettings) -> str:
    key = ECKey.generate_key("P-256", parameters={"kid": secrets.token_hex(8)})
    now = int(time.time())
    claims = {
        "iss": settings.core.jwt_issuer,
        "aud": settings.core.jwt_audience,
        "sub": user,
        "sid": str(uuid4()),
    }
    header = {"alg": "ES256", "kid": key.kid}
    return jwt.encode(header, {**claims, "iat": now, "exp": now + 300}, key)


@asynccontextmanager
async def routed(
    settings: PlatformSettings, sdl: str, urls: dict[str, str], config: RouterConfig | None = None
) -> AsyncIterator[RouterClient]:
    async with router_client(settings, sdl, urls, config or router_config()) as client:
        yield client


def _assert_unavailable(response: object) -> None:
    assert getattr(response, "status_code", None) == 503, getattr(response, "text", response)
    body = response.json()  # type: ignore[attr-defined]
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["retry-after"] == "1"  # type: ignore[attr-defined]


async def test_unknown_keys_refetch_the_published_keys_at_most_once_per_interval(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    user, _ = await router.sign_up()
    async with stub(lambda: JSONResponse(signer.jwks())) as (jwks, url):
        with_jwks = settings.replace(jwks_url=f"{url}/jwks.json")
        async with routed(with_jwks, supergraph_sdl, subgraph_urls) as client:
            valid = await client.data(ME, authorization=f"Bearer {_token(signer, user)}")
            assert valid == {"me": {"id": user}}
            for _ in range(3):
                forged = _unknown_key_token(user, settings)
                response = await client.post(ME, authorization=f"Bearer {forged}")
                assert response.status_code == 401
    assert jwks.requests == 1


async def test_tokens_of_a_known_key_ask_for_the_published_keys_no_more(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(identity, "_REFETCH_INTERVAL", 0.0)  # no interval absorbs a refetch
    user, _ = await router.sign_up()
    async with stub(lambda: JSONResponse(signer.jwks())) as (jwks, url):
        with_jwks = settings.replace(jwks_url=f"{url}/jwks.json")
        async with routed(with_jwks, supergraph_sdl, subgraph_urls) as client:
            for _ in range(3):  # each token a new session's: none is answered from a cache
                token = _token(signer, user)
                assert await client.data(ME, authorization=f"Bearer {token}") == {
                    "me": {"id": user}
                }
    assert jwks.requests == 1


async def test_a_token_whose_key_id_is_not_a_string_is_unauthenticated(
    router: RouterClient,
) -> None:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    token = ".".join([part({"alg": "ES256", "kid": ["a", "list"]}), part({"sub": "x"}), "c2ln"])
    response = await router.post(ME, authorization=f"Bearer {token}")
    assert response.status_code == 401, response.text


async def test_a_key_published_later_is_accepted_once_the_interval_has_passed(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    user, _ = await router.sign_up()
    newer = ECKey.generate_key("P-256", parameters={"kid": secrets.token_hex(8), "use": "sig"})
    published = [signer.jwks()]

    async with stub(lambda: JSONResponse(published[-1])) as (jwks, url):
        with_jwks = settings.replace(jwks_url=f"{url}/jwks.json")
        async with routed(with_jwks, supergraph_sdl, subgraph_urls) as client:
            assert (
                await client.post(ME, authorization=f"Bearer {_token(signer, user)}")
            ).status_code == 200
            keys = signer.jwks()["keys"]
            published.append({"keys": [newer.as_dict(private=False), *keys]})
            now = int(time.time())
            claims = {
                "iss": settings.core.jwt_issuer,
                "aud": settings.core.jwt_audience,
                "sub": user,
                "sid": str(uuid4()),
            }
            token = jwt.encode(
                {"alg": "ES256", "kid": newer.kid}, {**claims, "iat": now, "exp": now + 300}, newer
            )
            deadline = asyncio.get_running_loop().time() + 60
            while (await client.post(ME, authorization=f"Bearer {token}")).status_code != 200:
                assert asyncio.get_running_loop().time() < deadline, "the new key was never fetched"
                await asyncio.sleep(0.5)
    assert jwks.requests == 2


async def test_published_keys_answering_an_error_is_unavailable(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    user, _ = await router.sign_up()
    async with stub(broken) as (_, url):
        with_jwks = settings.replace(jwks_url=f"{url}/jwks.json")
        async with routed(with_jwks, supergraph_sdl, subgraph_urls) as client:
            _assert_unavailable(
                await client.post(ME, authorization=f"Bearer {_token(signer, user)}")
            )


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, {"error": "down"}), (200, {"error": "down"}), (200, [1]), (200, {"keys": [{}]})],
    ids=["error-status", "no-keys", "no-object", "no-key-type"],
)
async def test_published_keys_answering_json_that_is_no_key_set_is_unavailable(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
    status: int,
    body: object,
) -> None:
    user, _ = await router.sign_up()
    async with stub(lambda: JSONResponse(body, status_code=status)) as (_, url):
        with_jwks = settings.replace(jwks_url=f"{url}/jwks.json")
        async with routed(with_jwks, supergraph_sdl, subgraph_urls) as client:
            _assert_unavailable(
                await client.post(ME, authorization=f"Bearer {_token(signer, user)}")
            )


async def test_published_keys_answered_with_an_error_status_are_not_used(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    user, _ = await router.sign_up()
    async with stub(lambda: JSONResponse(signer.jwks(), status_code=500)) as (_, url):
        with_jwks = settings.replace(jwks_url=f"{url}/jwks.json")
        async with routed(with_jwks, supergraph_sdl, subgraph_urls) as client:
            _assert_unavailable(
                await client.post(ME, authorization=f"Bearer {_token(signer, user)}")
            )


async def test_keys_answering_an_error_is_unavailable(
    settings: PlatformSettings, supergraph_sdl: str, subgraph_urls: dict[str, str]
) -> None:
    async with stub(broken) as (keys, url):
        urls = {**subgraph_urls, "keys": f"{url}/graphql"}
        async with routed(settings, supergraph_sdl, urls) as client:
            _assert_unavailable(await client.post(CURRENT, x_api_key="vetrai_" + "x" * 43))
            longest = "vetrai_" + "x" * (200 - len("vetrai_"))
            _assert_unavailable(await client.post(CURRENT, x_api_key=longest))
            assert keys.requests == 2
            # Longer than any secret, or not one of ours: refused without asking keys.
            for secret in (longest + "x", "x" * 50):
                response = await client.post(CURRENT, x_api_key=secret)
                assert response.status_code == 401
    assert keys.requests == 2


async def test_tenancy_answering_an_error_is_unavailable_for_a_key(
    router: RouterClient,
    settings: PlatformSettings,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    token, org = await router.owner_of_new_organization()
    secret = (await new_key(router, token, org, CREATE))["secret"]
    async with stub(broken) as (tenancy, url):
        urls = {**subgraph_urls, "tenancy": f"{url}/graphql"}
        async with routed(settings, supergraph_sdl, urls) as client:
            _assert_unavailable(await client.post(ME, x_api_key=secret))
    assert tenancy.requests == 1


async def test_without_tenancy_a_user_still_acts_as_themselves(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    user, _ = await router.sign_up()
    async with stub(broken) as (tenancy, url):
        urls = {**subgraph_urls, "tenancy": f"{url}/graphql"}
        async with routed(settings, supergraph_sdl, urls) as client:
            me = await client.data(ME, authorization=f"Bearer {_token(signer, user)}")
    assert me == {"me": {"id": user}}
    assert tenancy.requests == 1


async def test_without_redis_a_session_cannot_be_checked_and_is_unavailable(
    router: RouterClient,
    settings: PlatformSettings,
    signer: TokenSigner,
    supergraph_sdl: str,
    subgraph_urls: dict[str, str],
) -> None:
    user, _ = await router.sign_up()
    # Nothing listens there; rate limits off, so only the session check needs Redis.
    no_redis = settings.replace(redis_url="redis://127.0.0.1:9/0")
    config = RouterConfig(rate_limits=RateLimits(enabled=False))
    async with routed(no_redis, supergraph_sdl, subgraph_urls, config) as client:
        _assert_unavailable(await client.post(ME, authorization=f"Bearer {_token(signer, user)}"))
