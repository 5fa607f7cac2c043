"""Subscriptions through the router. Clients speak graphql-transport-ws over WebSocket, or
Apollo's multipart HTTP protocol; the router subscribes at the subgraph that owns the field,
over WebSocket with the caller's signed context, and runs the rest of the plan (entity fields
from other subgraphs) for every event before sending it on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, OperationType
from graphql.execution.values import get_variable_values
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from core.caller import Caller
from core.caller_context import HEADER
from router.edge import Router
from router.identity import Authenticator, Forbidden, Unauthenticated, Unavailable
from router.planner.errors import PlanningError
from router.planner.plan import Fetch, Sequence
from router.planner.planner import PlannedOperation, select_operation

logger = logging.getLogger("vetrai.router")
PROTOCOL = "graphql-transport-ws"
MULTIPART = 'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"'
HEARTBEAT_SECONDS = 5.0
PING_SECONDS = 20.0
INIT_TIMEOUT_SECONDS = 10.0
SubgraphHeaders = Callable[[str, HTTPConnection], Mapping[str, str]]


class SubscriptionError(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code

    def errors(self) -> list[dict[str, Any]]:
        return [{"message": str(self), "extensions": {"code": self.code}}]


@dataclass(frozen=True)
class Prepared:
    planned: PlannedOperation
    variables: dict[str, Any]
    primary: Fetch | None  # the subscription fetch; None for a query or mutation


def _primary(planned: PlannedOperation) -> Fetch:
    node = planned.plan.node
    if isinstance(node, Sequence):
        node = node.nodes[0]
    if not isinstance(node, Fetch) or node.operation_kind != "subscription":
        raise SubscriptionError("This subscription cannot be planned.", "QUERY_PLANNING_FAILED")
    return node


def _ws_url(url: str) -> str:
    return "ws" + url[len("http") :] if url.startswith("http") else url


class Subscriptions:
    def __init__(
        self,
        router: Router,
        urls: Mapping[str, str],
        headers: SubgraphHeaders,
        authenticator: Authenticator,
        *,
        per_connection: int = 20,
        connections_per_caller: int = 10,
    ) -> None:
        self.router = router
        self.urls = urls
        self.headers = headers
        self.authenticator = authenticator
        self.per_connection = per_connection
        self.connections_per_caller = connections_per_caller
        self._connections: Counter[str] = Counter()

    # planning ----------------------------------------------------------------------------------

    def prepare(self, params: dict[str, Any]) -> Prepared:
        source, name = params.get("query"), params.get("operationName")
        if not isinstance(source, str) or not source:
            raise SubscriptionError("Must provide query string.", "BAD_REQUEST")
        checked = self.router.documents.get(source)
        if checked.document is None:
            message = checked.errors[0]["message"] if checked.errors else "Invalid document."
            raise SubscriptionError(message, "GRAPHQL_VALIDATION_FAILED")
        try:
            operation = select_operation(checked.document, name)
        except PlanningError as exc:
            raise SubscriptionError(str(exc), "GRAPHQL_VALIDATION_FAILED") from None
        raw = params.get("variables") or {}
        coerced = get_variable_values(
            self.router.supergraph.api_schema, operation.variable_definitions or (), raw
        )
        if isinstance(coerced, list):
            raise SubscriptionError(coerced[0].message, "BAD_USER_INPUT")
        planned = self.router.planner.plan_for(source, checked.document, name)
        subscribing = operation.operation == OperationType.SUBSCRIPTION
        return Prepared(planned, coerced.coerced, _primary(planned) if subscribing else None)

    # running -----------------------------------------------------------------------------------

    async def results(self, prepared: Prepared, connection: HTTPConnection) -> AsyncIterator[Any]:
        """The results to send: one for a query or mutation, one per event for a subscription."""

        def headers_for(service: str) -> Mapping[str, str]:
            return self.headers(service, connection)

        if prepared.primary is None:
            yield await self.router.executor.execute(
                prepared.planned, prepared.variables, headers_for
            )
            return
        async for event in self._events(prepared, prepared.primary, headers_for):
            yield await self.router.executor.execute(
                prepared.planned, prepared.variables, headers_for, event=event
            )

    async def _events(
        self,
        prepared: Prepared,
        fetch: Fetch,
        headers_for: Callable[[str], Mapping[str, str]],
    ) -> AsyncIterator[dict[str, Any]]:
        url = _ws_url(self.urls[fetch.service_name])
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
            raise SubscriptionError(
                f"Subgraph '{fetch.service_name}' could not be reached.", "SUBGRAPH_ERROR"
            ) from exc

    # graphql-transport-ws to clients -----------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        if PROTOCOL not in ws.scope.get("subprotocols", []):
            await ws.close(code=4406)
            return
        await ws.accept(subprotocol=PROTOCOL)
        try:
            caller = await self._init(ws)
        except (TimeoutError, WebSocketDisconnect):
            return
        if caller is None:
            return
        who = str(caller.user_id or caller.key_id or caller.client_ip)
        if self._connections[who] >= self.connections_per_caller:
            await ws.close(code=4429, reason="Too many connections")
            return
        self._connections[who] += 1
        await ws.send_text(_dump({"type": "connection_ack"}))
        try:
            await _ClientConnection(self, ws).serve()
        finally:
            self._connections[who] -= 1

    async def _init(self, ws: WebSocket) -> Caller | None:
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
            identity = await self.authenticator.identify(headers, client)
        except (Unauthenticated, Forbidden, Unavailable):
            await ws.close(code=4403, reason="Forbidden")
            return None
        ws.scope.setdefault("state", {})["caller"] = identity.caller
        return identity.caller

    # multipart HTTP ----------------------------------------------------------------------------

    async def multipart(
        self, connection: HTTPConnection, params: dict[str, Any], receive: Any, send: Any
    ) -> None:
        """Apollo's multipart subscription protocol: one part per event, heartbeats between,
        until the events end or the client goes away."""
        streaming = asyncio.create_task(self._multipart(connection, params, send))
        gone = asyncio.create_task(_disconnected(receive))
        await asyncio.wait({streaming, gone}, return_when=asyncio.FIRST_COMPLETED)
        for task in (streaming, gone):
            task.cancel()
        await asyncio.gather(streaming, gone, return_exceptions=True)

    async def _multipart(
        self, connection: HTTPConnection, params: dict[str, Any], send: Any
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", MULTIPART.encode())],
            }
        )

        async def part(body: dict[str, Any]) -> None:
            chunk = b"\r\n--graphql\r\ncontent-type: application/json\r\n\r\n" + orjson.dumps(body)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        results = self._multipart_results(connection, params)
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
                await part(result)
                pending = asyncio.ensure_future(anext(results))
        finally:
            pending.cancel()
            await results.aclose()
        await send({"type": "http.response.body", "body": b"\r\n--graphql--\r\n"})

    async def _multipart_results(
        self, connection: HTTPConnection, params: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        try:
            prepared = self.prepare(params)
            async for result in self.results(prepared, connection):
                yield {"payload": result}
        except SubscriptionError as exc:
            yield {"payload": None, "errors": exc.errors()}


class _ClientConnection:
    """One client's graphql-transport-ws connection after ``connection_ack``."""

    def __init__(self, subscriptions: Subscriptions, ws: WebSocket) -> None:
        self.subscriptions = subscriptions
        self.ws = ws
        self.running: dict[str, asyncio.Task[None]] = {}
        self.lock = asyncio.Lock()

    async def serve(self) -> None:
        pinger = asyncio.create_task(self._ping())
        try:
            while True:
                message = orjson.loads(await self.ws.receive_text())
                await self._handle(message)
        except (WebSocketDisconnect, orjson.JSONDecodeError, RuntimeError):
            pass
        finally:
            pinger.cancel()
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind, ident = message.get("type"), message.get("id")
        if kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "subscribe" and isinstance(ident, str):
            await self._subscribe(ident, message.get("payload") or {})
        elif kind == "complete" and isinstance(ident, str):
            task = self.running.pop(ident, None)
            if task is not None:
                task.cancel()
        elif kind == "connection_init":
            await self.ws.close(code=4429, reason="Too many initialisation requests")
        elif kind != "pong":
            await self.ws.close(code=4400, reason="Unexpected message")

    async def _subscribe(self, ident: str, payload: dict[str, Any]) -> None:
        if ident in self.running:
            await self.ws.close(code=4409, reason=f"Subscriber for {ident} already exists")
            return
        if len(self.running) >= self.subscriptions.per_connection:
            error = SubscriptionError("Too many subscriptions on this connection.", "LIMIT")
            await self._send({"type": "error", "id": ident, "payload": error.errors()})
            return
        self.running[ident] = asyncio.create_task(self._run(ident, payload))

    async def _run(self, ident: str, payload: dict[str, Any]) -> None:
        try:
            prepared = self.subscriptions.prepare(payload)
            async for result in self.subscriptions.results(prepared, self.ws):
                await self._send({"type": "next", "id": ident, "payload": result})
            await self._send({"type": "complete", "id": ident})
        except SubscriptionError as exc:
            await self._send({"type": "error", "id": ident, "payload": exc.errors()})
        except GraphQLError as exc:
            await self._send({"type": "error", "id": ident, "payload": [exc.formatted]})
        finally:
            self.running.pop(ident, None)

    async def _send(self, message: dict[str, Any]) -> None:
        async with self.lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.ws.send_text(_dump(message))

    async def _ping(self) -> None:
        while True:
            await asyncio.sleep(PING_SECONDS)
            await self._send({"type": "ping"})


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _expect_ack(upstream: Any) -> None:
    while True:
        message = orjson.loads(await upstream.recv())
        if message.get("type") == "connection_ack":
            return
        if message.get("type") != "ping":
            raise SubscriptionError("The subgraph refused the subscription.", "SUBGRAPH_ERROR")


def _dump(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()
