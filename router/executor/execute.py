"""Runs a query plan: fetches in order and in parallel, merged into one response, or for
`@defer` into a first payload and one per deferred fragment."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import orjson
from graphql import ExecutionResult, experimental_execute_incrementally

from router.executor.client import SubgraphClient, SubgraphRequestError
from router.executor.complete import Completion
from router.executor.contexts import (
    aliased_operation,
    as_one_answer,
    context_values,
    objects_with_ancestors,
)
from router.executor.entities import (
    Path,
    Representer,
    merge_into,
    objects_at,
    paths_at,
    rename_at,
    representer,
)
from router.executor.incremental import (
    copied,
    delivered_objects,
    included,
    items_for,
    merge_delivered,
    placed,
)
from router.planner.plan import (
    Condition,
    Defer,
    DeferredNode,
    Fetch,
    Flatten,
    Parallel,
    PlanNode,
    Sequence,
)
from router.planner.planner import PlannedOperation
from router.supergraph import Supergraph

logger = logging.getLogger("vetrai.router")
HeadersFor = Callable[[str], Mapping[str, str]]
REPRESENTERS_KEPT = 4096


class Executor:
    def __init__(self, supergraph: Supergraph, client: SubgraphClient) -> None:
        self.supergraph = supergraph
        self.client = client
        self._representers: dict[tuple[Any, str | None], Representer] = {}

    async def execute(
        self,
        planned: PlannedOperation,
        variables: dict[str, Any],
        headers_for: HeadersFor,
        event: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Run the plan. For a subscription, ``event`` (one result the owning subgraph sent)
        stands for the subscription fetch, and the rest of the plan runs from it. ``errors``
        are known before running (fields removed from the plan): they come first, and a null
        at their paths gets no second error."""
        run = _Run(self, variables, headers_for, event)
        run.errors.extend(errors or ())
        if planned.plan.node is not None:
            await run.node(planned.plan.node)
        if planned.shape.introspection is not None:
            run.introspect(planned)
        data = Completion(variables, run.errors).root(run.data, planned.shape.root)
        response: dict[str, Any] = {"data": data}
        if run.errors:
            response["errors"] = run.errors
        return response

    async def stream(
        self,
        planned: PlannedOperation,
        variables: dict[str, Any],
        headers_for: HeadersFor,
        errors: list[dict[str, Any]] | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The payloads of an operation with `@defer`: `{data, hasNext}` once the primary
        part has run, then `{incremental: [...], hasNext}` as each deferred fragment's has.
        A fragment whose `@defer(if:)` is false comes with the payload it is in. A deferred
        fragment's fetches start as soon as the fetches it depends on have run."""
        node = planned.plan.node
        primary, blocks = (node.primary, node.deferred) if isinstance(node, Defer) else (node, ())
        disabled = frozenset(
            d.if_variable
            for d in planned.deferred
            if d.if_variable is not None and not variables.get(d.if_variable)
        )
        shapes = planned.delivery(self.supergraph, disabled)
        run = _Run(self, variables, headers_for)
        delivered = [d for d in planned.deferred if d.if_variable not in disabled]
        now, known = placed(errors or [], shapes.primary, delivered, shapes.deferred)
        run.errors.extend(now)
        delivery = _Delivery(run, shapes.deferred, disabled, known)
        try:
            out = asyncio.Event()
            delivery.start(blocks, out)
            await run.part(primary, blocks, disabled)
            if planned.shape.introspection is not None:
                run.introspect(planned)
            data = Completion(variables, run.errors).root(run.data, shapes.primary)
            if data is None:
                run.errors.extend(e for found in known.values() for e in found)
                delivery.close()
            first: dict[str, Any] = {"data": data}
            if run.errors:
                first["errors"] = run.errors
            first["hasNext"] = delivery.pending > 0
            delivery.delivered = copied(data)
            out.set()
            yield first
            async for payload in delivery.payloads():
                yield payload
        finally:
            await delivery.aclose()

    def representer(self, fetch: Fetch) -> Representer:
        assert fetch.requires is not None  # noqa: S101 - the planner sets them on entity fetches
        key = (fetch.requires, fetch.typename_rewrite)
        found = self._representers.get(key)
        if found is None:
            found = representer(fetch.requires, self.is_a, fetch.typename_rewrite)
            if len(self._representers) >= REPRESENTERS_KEPT:
                self._representers.clear()
            self._representers[key] = found
        return found

    def is_a(self, typename: str, condition: str) -> bool:
        return typename == condition or typename in self.supergraph.possible_types(condition)


class _Run:
    def __init__(
        self,
        executor: Executor,
        variables: dict[str, Any],
        headers_for: HeadersFor,
        event: dict[str, Any] | None = None,
    ):
        self.executor = executor
        self.event = event
        self.variables = variables
        self.headers_for = headers_for
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.fetched: defaultdict[int, asyncio.Event] | None = None
        """When delivery is incremental: set for each fetch a deferred fragment depends on,
        once it has run (or the part it is in has)."""

    async def node(self, node: PlanNode) -> None:
        if isinstance(node, Fetch):
            await self.root_fetch(node)
            if node.id is not None and self.fetched is not None:
                self.fetched[node.id].set()
        elif isinstance(node, Flatten):
            await self.entity_fetch(node)
            if node.node.id is not None and self.fetched is not None:
                self.fetched[node.node.id].set()
        elif isinstance(node, Sequence):
            for child in node.nodes:
                await self.node(child)
        elif isinstance(node, Parallel):
            await asyncio.gather(*(self.node(child) for child in node.nodes))
        elif isinstance(node, Condition):
            branch = node.if_clause if self.variables.get(node.condition) else node.else_clause
            if branch is not None:
                await self.node(branch)
        elif isinstance(node, Defer):
            await self.part(node.primary, node.deferred, None)

    async def part(
        self,
        node: PlanNode | None,
        deferred: tuple[DeferredNode, ...],
        disabled: frozenset[str] | None,
    ) -> None:
        """Run one payload's part, with the deferred fragments delivered with it (all when
        `disabled` is None: the response is whole)."""
        try:
            if node is not None:
                await self.node(node)
            now = [
                d
                for d in deferred
                if disabled is None or (d.if_variable is not None and d.if_variable in disabled)
            ]
            await asyncio.gather(*(self.part(d.node, d.deferred, disabled) for d in now))
        finally:
            if self.fetched is not None:
                # Fetches a condition skipped, or a failure stopped, will not run now.
                for fetch_id in _fetch_ids(node):
                    self.fetched[fetch_id].set()

    async def root_fetch(self, fetch: Fetch) -> None:
        if fetch.operation_kind == "subscription":
            response = self.event
        else:
            response = await self._send(fetch, self._variables(fetch))
        if response is None:
            return
        data = response.get("data")
        if isinstance(data, dict):
            for alias_path, key in fetch.output_renames:
                rename_at(data, alias_path, key, self.executor.is_a)
            merge_into(self.data, data)
        for error in response.get("errors") or ():
            self.errors.append(_with_service(error, fetch.service_name, error.get("path")))

    async def entity_fetch(self, flatten: Flatten) -> None:
        fetch = flatten.node
        if fetch.context_rewrites:
            await self.contextual_fetch(flatten)
            return
        represent = self.executor.representer(fetch)
        targets: list[list[dict[str, Any]]] = []
        representations: list[dict[str, Any]] = []
        index_of: dict[bytes, int] = {}
        for obj in objects_at(self.data, flatten.path):
            rep = represent(obj)
            if rep is None:
                continue
            key = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
            index = index_of.get(key)
            if index is None:
                index = index_of[key] = len(representations)
                representations.append(rep)
                targets.append([])
            targets[index].append(obj)
        if not representations:
            return
        variables = {**self._variables(fetch), "representations": representations}
        response = await self._send(fetch, variables)
        if response is None:
            return
        self._merge_entities(response, targets, flatten)

    async def contextual_fetch(self, flatten: Flatten) -> None:
        """Entities grouped by the values of their contextual arguments, each group one
        aliased `_entities` selection of the same request."""
        fetch = flatten.node
        represent = self.executor.representer(fetch)
        groups: dict[bytes, tuple[dict[str, Any], list[dict[str, Any]], list[list[Any]]]] = {}
        index_of: dict[bytes, int] = {}
        for obj, above in objects_with_ancestors(self.data, flatten.path):
            rep = represent(obj)
            if rep is None:
                continue
            values = context_values(above, fetch.context_rewrites, self.executor.is_a)
            group_key = orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
            _, representations, targets = groups.setdefault(group_key, (values, [], []))
            key = group_key + orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
            index = index_of.get(key)
            if index is None:
                index = index_of[key] = len(representations)
                representations.append(rep)
                targets.append([])
            targets[index].append(obj)
        if not groups:
            return
        variables = self._variables(fetch)
        if len(groups) == 1:
            values, representations, targets = next(iter(groups.values()))
            variables.update(values, representations=representations)
            response = await self._send(fetch, variables)
            if response is not None:
                self._merge_entities(response, targets, flatten)
            return
        names = tuple(dict.fromkeys(r.variable for r in fetch.context_rewrites))
        for n, (values, representations, _) in enumerate(groups.values()):
            variables[f"representations_{n}"] = representations
            variables.update({f"{name}_{n}": values.get(name) for name in names})
        operation = aliased_operation(fetch.operation, names, len(groups))
        response = await self._send(replace(fetch, operation=operation), variables)
        if response is None:
            return
        sizes = [len(representations) for _, representations, _ in groups.values()]
        every_target = [t for _, _, targets in groups.values() for t in targets]
        self._merge_entities(as_one_answer(response, sizes), every_target, flatten)

    def _merge_entities(
        self, response: dict[str, Any], targets: list[list[dict[str, Any]]], flatten: Flatten
    ) -> None:
        data = response.get("data")
        entities = data.get("_entities") if isinstance(data, dict) else None
        if isinstance(entities, list):
            renames = flatten.node.output_renames
            rewrite = flatten.node.typename_rewrite
            for entity, objects in zip(entities, targets, strict=False):
                if isinstance(entity, dict) and renames:
                    # The entity's type conditions select by the type it was asked as.
                    entity.setdefault("__typename", objects[0].get("__typename"))
                    for alias_path, key in renames:
                        rename_at(entity, alias_path, key, self.executor.is_a)
                if isinstance(entity, dict):
                    concrete = entity.get("__typename") if rewrite else None
                    for obj in objects:
                        if concrete not in (None, rewrite) and obj.get("__typename") == rewrite:
                            # The answer of a subgraph that knows the @interfaceObject's
                            # implementations: the object's concrete type.
                            obj["__typename"] = concrete
                        merge_into(obj, entity)
        errors = response.get("errors")
        if errors:
            paths = paths_at(self.data, flatten.path)
            service = flatten.node.service_name
            for error in errors:
                path = _client_path(error, targets, paths)
                self.errors.append(_with_service(error, service, path))

    def _variables(self, fetch: Fetch) -> dict[str, Any]:
        return {
            name: self.variables[name] for name in fetch.variable_usages if name in self.variables
        }

    async def _send(self, fetch: Fetch, variables: dict[str, Any]) -> dict[str, Any] | None:
        body: dict[str, Any] = {"query": fetch.operation, "variables": variables}
        if fetch.operation_name:
            body["operationName"] = fetch.operation_name
        try:
            return await self.executor.client.request(
                fetch.service_name,
                body,
                self.headers_for(fetch.service_name),
                idempotent=fetch.operation_kind == "query",
            )
        except SubgraphRequestError as failure:
            self.errors.append(failure.as_error())
            return None

    def introspect(self, planned: PlannedOperation) -> None:
        document = planned.shape.introspection
        assert document is not None  # noqa: S101 - callers check
        # graphql-core's `execute` refuses a schema declaring @defer, as the API schema does;
        # the introspection document has no @defer left, so the result is whole.
        result = experimental_execute_incrementally(
            self.executor.supergraph.api_schema, document, variable_values=self.variables
        )
        assert isinstance(result, ExecutionResult)  # noqa: S101 - synchronous, no @defer
        if result.data:
            self.data.update(result.data)
        self.errors.extend(dict(e.formatted) for e in result.errors or ())


class _Delivery:
    """The deferred fragments of one response, each fetched once the fetches it depends on
    have run and delivered once the payload it is in has been, their payloads in the order
    they complete."""

    def __init__(
        self,
        run: _Run,
        shapes: dict[int, Any],
        disabled: frozenset[str],
        known: dict[int, list[dict[str, Any]]],
    ) -> None:
        self.run = run
        self.fetched: defaultdict[int, asyncio.Event] = defaultdict(asyncio.Event)
        run.fetched = self.fetched
        self.delivered: Any = None
        """The response as the client has it so far, merged as the client merges it."""
        self.shapes = shapes
        self.disabled = disabled
        self.known = known
        """The errors known before running, of what each fragment completes."""
        self.done: asyncio.Queue[tuple[list[dict[str, Any]], asyncio.Event]] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.pending = 0

    def start(self, blocks: tuple[DeferredNode, ...], out: asyncio.Event) -> None:
        """The fragments delivered after the part they are in (`out` once that is out)."""
        for block in blocks:
            if block.if_variable is not None and block.if_variable in self.disabled:
                self.start(block.deferred, out)
            elif included(block, self.run.variables):
                self.pending += 1
                self.tasks.add(asyncio.create_task(self._deliver(block, out)))

    def close(self) -> None:
        """Nothing more is delivered (the first payload's data is null)."""
        for task in self.tasks:
            task.cancel()
        self.pending = 0

    async def aclose(self) -> None:
        self.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def payloads(self) -> AsyncIterator[dict[str, Any]]:
        while self.pending:
            items, out = await self.done.get()
            self.pending -= 1
            for item in items:
                if item["data"] is not None:
                    merge_delivered(self.delivered, item["path"], item["data"])
            out.set()
            if items or not self.pending:
                payload: dict[str, Any] = {"hasNext": self.pending > 0}
                if items:
                    payload = {"incremental": items, **payload}
                yield payload

    async def _deliver(self, block: DeferredNode, parent_out: asyncio.Event) -> None:
        run = self.run
        part = _Run(run.executor, run.variables, run.headers_for)
        part.data = run.data
        part.fetched = self.fetched
        part.errors.extend(self.known.get(id(block), ()))
        out = asyncio.Event()
        items: list[dict[str, Any]] = []
        try:
            for fetch_id in block.depends:
                await self.fetched[fetch_id].wait()
            self.start(block.deferred, out)
            await part.part(block.node, block.deferred, self.disabled)
            await parent_out.wait()
            objects = [
                (path, obj)
                for path, obj in delivered_objects(self.delivered, run.data, block.path)
                if run.executor.is_a(
                    obj.get("__typename") or block.type_condition, block.type_condition
                )
            ]
            completion = Completion(run.variables, part.errors)
            shape = self.shapes[id(block.fragment)]
            items = items_for(
                block, objects, lambda obj, path: completion.at(obj, shape, path), part.errors
            )
        except Exception:
            # Unexpected, as subgraph failures are errors in the payload: the fragment is
            # left out and the rest still delivered.
            logger.exception("a deferred fragment failed")
        await self.done.put((items, out))


def _fetch_ids(node: PlanNode | None) -> Iterator[int]:
    """The ids of a part's fetches (its nested `@defer` fragments are parts of their own)."""
    if isinstance(node, Fetch | Flatten):
        fetch = node if isinstance(node, Fetch) else node.node
        if fetch.id is not None:
            yield fetch.id
    elif isinstance(node, Sequence | Parallel):
        for child in node.nodes:
            yield from _fetch_ids(child)
    elif isinstance(node, Condition):
        yield from _fetch_ids(node.if_clause)
        yield from _fetch_ids(node.else_clause)
    elif isinstance(node, Defer):
        yield from _fetch_ids(node.primary)


def _client_path(
    error: dict[str, Any], targets: list[list[dict[str, Any]]], paths: dict[int, Path]
) -> Path | None:
    path = error.get("path")
    if not isinstance(path, list) or len(path) < 2 or path[0] != "_entities":
        return None
    index = path[1]
    if not isinstance(index, int) or not 0 <= index < len(targets) or not targets[index]:
        return None
    at = paths.get(id(targets[index][0]))
    return None if at is None else [*at, *path[2:]]


def _with_service(error: dict[str, Any], service: str, path: Path | None) -> dict[str, Any]:
    result: dict[str, Any] = {"message": error.get("message", "Subgraph error")}
    if path:
        result["path"] = path
    extensions = dict(error.get("extensions") or {})
    # As Apollo's gateway does, a subgraph error without a code gets one.
    extensions.setdefault("code", "DOWNSTREAM_SERVICE_ERROR")
    extensions.setdefault("serviceName", service)
    result["extensions"] = extensions
    return result
