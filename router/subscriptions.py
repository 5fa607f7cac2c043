"""Subscriptions through the router. Clients speak graphql-transport-ws over WebSocket, or
Apollo's multipart HTTP protocol; every operation a client sends runs through the pipeline
(the same checks as a POST); a subscription is then opened at the subgraph that owns the field,
over WebSocket with the caller's signed context, and the rest of the plan (entity fields from
other subgraphs) runs for every event before it is sent on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson
from graphql import OperationType
from starlette.types import Receive, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from core.caller_context import HEADER
from router import limits
from router.edge import MULTIPART_END, disconnected, multipart_part
from router.identity import Identity
from router.pipeline.errors import RouterError, body_too_large, masked
from router.pipeline.operation import Params, PreparedOperation, Transport
from router.pipeline.runtime import Runtime, Served
from router.pipeline.stages import Pipeline
from router.planner.plan import Fetch, Sequence
from router.telemetry import Outcome, outcome_of

logger = logging.getLogger("vetrai.router")
PROTOCOL = "graphql-transport-ws"
MULTIPART = 'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"'
HEARTBEAT_SECONDS = 5.0
PING_SECONDS = 20.0
INIT_TIMEOUT_SECONDS = 10.0


def _primary(prepared: PreparedOperation) -> Fetch:
    node = prepared.planned.plan.node
    if isinstance(node, Sequence):
        node = node.nodes[0]
    if not isinstance(node, Fetch) or node.operation_kind != "subscription":
        raise RouterError(500, "QUERY_PLANNING_FAILED", "This subscription cannot be planned.")
    return node


def _ws_url(url: str) -> str:
    return "ws" + url[len("http") :] if url.startswith("http") else url


class Subscriptions:
    def __init__(
        self,
        runtime: Runtime,
        pipeline: Pipeline,
        *,
        per_connection: int = 20,
        connections_per_caller: int = 10,
    ) -> None:
        self.runtime = runtime
        self.pipeline = pipeline
        self.per_connection = per_connection
        self.connections_per_caller = connections_per_caller
        self._connections: Counter[str] = Counter()

    # running -----------------------------------------------------------------------------------

    async def results(
        self, served: Served, prepared: PreparedOperation, identity: Identity
    ) -> AsyncIterator[dict[str, Any]]:
        """The results to send: one for a query or mutation, one per event for a subscription."""
        if prepared.kind != OperationType.SUBSCRIPTION:
            yield await self.pipeline.execute(served, prepared, identity.caller)
            return
        headers_for = self.pipeline.signer(identity.caller)
        async for event in self._events(served, prepared, _primary(prepared), headers_for):
            yield await self.pipeline.execute(served, prepared, identity.caller, event=event)

    async def _events(
        self,
        served: Served,
        prepared: PreparedOperation,
        fetch: Fetch,
        headers_for: Callable[[str], Mapping[str, str]],
    ) -> AsyncIterator[dict[str, Any]]:
        url = _ws_url(served.urls[fetch.service_name])
        context = headers_for(fetch.service_name)[HEADER]
        variables = {name: prepared.variables.get(name) for name in fetch.variable_usages}
        try:
            async with connect(url, subprotocols=[PROTOCOL]) as upstream:  # type: ignore[list-item]
                await upstream.send(
                    _dump({"type": "connection_init", "payload": {HEADER: context}})
                )
                await _expect_ack(upstream)
                subscribe = {"query": fetch.operation, "variables": variables}
                await upstream.send(_dump({"type": "subscribe", "id": "1", "payload": subscribe}))
                async for raw in upstream:
                    message = orjson.loads(raw)
                    kind = message.get("type")
                    if kind == "next":
                        yield message["payload"]
                    elif kind == "error":
                        yield {"data": None, "errors": message["payload"]}
                        return
                    elif kind == "complete":
                        return
                    elif kind == "ping":
                        await upstream.send(_dump({"type": "pong"}))
        except (OSError, WebSocketException) as exc:
            logger.warning("subscription to %s failed: %r", fetch.service_name, exc)
            raise RouterError(
                502, "SUBGRAPH_ERROR", f"Subgraph '{fetch.service_name}' could not be reached."
            ) from exc

    # graphql-transport-ws to clients -----------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        if PROTOCOL not in ws.scope.get("subprotocols", []):
            await ws.close(code=4406)
            return
        await ws.accept(subprotocol=PROTOCOL)
        try:
            identity = await self._init(ws)
        except (TimeoutError, WebSocketDisconnect):
            return
        if identity is None:
            return
        caller = identity.caller
        who = str(caller.user_id or caller.key_id or caller.client_ip)
        if self._connections[who] >= self.connections_per_caller:
            await ws.close(code=4429, reason="Too many connections")
            return
        self._connections[who] += 1
        await ws.send_text(_dump({"type": "connection_ack"}))
        try:
            await _ClientConnection(self, ws, identity).serve()
        finally:
            self._connections[who] -= 1

    async def _init(self, ws: WebSocket) -> Identity | None:
        message = orjson.loads(
            await asyncio.wait_for(ws.receive_text(), timeout=INIT_TIMEOUT_SECONDS)
        )
        if message.get("type") != "connection_init":
            await ws.close(code=4401, reason="Unauthorized")
            return None
        payload = message.get("payload") or {}
        given = {str(k).lower(): str(v) for k, v in payload.items() if isinstance(v, str)}
        headers = {**dict(ws.headers), **given}
        client = ws.client.host if ws.client else None
        try:
            return await self.pipeline.admit(headers, client)
        except RouterError as error:
            await ws.close(code=4403, reason=error.code)  # the code an HTTP request gets
            return None

    # multipart HTTP ----------------------------------------------------------------------------

    async def multipart(
        self,
        served: Served,
        prepared: PreparedOperation,
        identity: Identity,
        receive: Receive,
        send: Send,
    ) -> None:
        """Apollo's multipart subscription protocol: one part per event, heartbeats between,
        until the events end or the client goes away."""
        streaming = asyncio.create_task(self._multipart(served, prepared, identity, send))
        gone = asyncio.create_task(disconnected(receive))
        await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (streaming, gone):
            task.cancel()
        await asyncio.gather(streaming, gone, return_exceptions=True)

    async def _multipart(
        self, served: Served, prepared: PreparedOperation, identity: Identity, send: Send
    ) -> None:
        headers = [
            (b"content-type", MULTIPART.encode()),
            *((k.encode(), v.encode()) for k, v in prepared.headers.items()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def part(body: dict[str, Any]) -> None:
            chunk = multipart_part(body)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        results = self.results(served, prepared, identity)
        pending = asyncio.ensure_future(anext(results))
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
                if not done:
                    await part({})
                    continue
                try:
                    result = pending.result()
                except StopAsyncIteration:
                    break
                except RouterError as error:
                    await part({"payload": None, "errors": error.as_errors()})
                    break
                await part({"payload": result})
                pending = asyncio.ensure_future(anext(results))
        finally:
            pending.cancel()
            await results.aclose()  # type: ignore[attr-defined]
        await send({"type": "http.response.body", "body": MULTIPART_END})


class _ClientConnection:
    """One client's graphql-transport-ws connection after ``connection_ack``."""

    def __init__(self, subscriptions: Subscriptions, ws: WebSocket, identity: Identity) -> None:
        self.subscriptions = subscriptions
        self.ws = ws
        self.identity = identity
        self.limit = subscriptions.pipeline.config.limits.max_body_bytes
        self.running: dict[str, asyncio.Task[None]] = {}
        self.lock = asyncio.Lock()

    async def serve(self) -> None:
        pinger = asyncio.create_task(self._ping())
        try:
            while True:
                raw = await self.ws.receive_text()
                message = orjson.loads(raw)
                if len(raw) > self.limit and message.get("type") == "subscribe":
                    await self._refuse(message.get("id"), body_too_large(self.limit))
                    continue
                await self._handle(message)
        except (WebSocketDisconnect, orjson.JSONDecodeError, RuntimeError):
            pass
        finally:
            pinger.cancel()
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(pinger, *self.running.values(), return_exceptions=True)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind, ident = message.get("type"), message.get("id")
        if kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "subscribe" and isinstance(ident, str):
            await self._subscribe(ident, message.get("payload"))
        elif kind == "complete" and isinstance(ident, str):
            task = self.running.pop(ident, None)
            if task is not None:
                task.cancel()
        elif kind == "connection_init":
            await self.ws.close(code=4429, reason="Too many initialisation requests")
        elif kind != "pong":
            await self.ws.close(code=4400, reason="Unexpected message")

    async def _subscribe(self, ident: str, payload: Any) -> None:
        if ident in self.running:
            await self.ws.close(code=4409, reason=f"Subscriber for {ident} already exists")
            return
        if len(self.running) >= self.subscriptions.per_connection:
            await self._refuse(
                ident, RouterError(400, "LIMIT", "Too many subscriptions on this connection.")
            )
            return
        self.running[ident] = asyncio.create_task(self._run(ident, payload))

    async def _run(self, ident: str, payload: Any) -> None:
        pipeline = self.subscriptions.pipeline
        started = time.perf_counter()
        name = payload.get("operationName") if isinstance(payload, dict) else None
        outcome, status, fetches = Outcome.REFUSED, 200, 0
        try:
            async with self.subscriptions.runtime.using() as served:
                params = Params.of(payload)
                prepared = await pipeline.prepare(
                    served, params, self.identity, Transport.WEBSOCKET
                )
                name, outcome = prepared.name, Outcome.OK
                fetches = limits.count_fetches(prepared.planned.plan.node)
                async for result in self.subscriptions.results(served, prepared, self.identity):
                    outcome = outcome_of(result) if outcome is Outcome.OK else outcome
                    await self._send({"type": "next", "id": ident, "payload": result})
            await self._send({"type": "complete", "id": ident})
        except RouterError as error:
            status = error.status
            await self._refuse(ident, error)
        except Exception as exc:
            hidden = masked(exc)
            outcome, status = Outcome.ERRORS, hidden.status
            await self._refuse(ident, hidden)
        finally:
            self.running.pop(ident, None)
            name = name if isinstance(name, str) else None
            pipeline.record(name, self.identity.caller, outcome, started, status, fetches)

    async def _refuse(self, ident: Any, error: RouterError) -> None:
        await self._send({"type": "error", "id": ident, "payload": error.as_errors()})

    async def _send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.ws.send_text(_dump(message))

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_SECONDS)
            await self._send({"type": "ping"})


async def _expect_ack(upstream: Any) -> None:
    while True:
        message = orjson.loads(await upstream.recv())
        if message.get("type") == "connection_ack":
            return
        if message.get("type") != "ping":
            raise RouterError(502, "SUBGRAPH_ERROR", "The subgraph refused the subscription.")


def _dump(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()
