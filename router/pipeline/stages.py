"""The request pipeline's stages, run in this order by every transport:

parameters (read by the transport) -> caller -> persisted query -> document -> operation and
variables -> one field walk -> limits -> authorization (what the caller may not read is
removed) -> plan (of what is left, with override labels) -> cost (on that plan) -> rate
limits -> execute or subscribe (the whole operation, removed fields null with their errors)
-> response (by the transport). A stage refuses by raising ``RouterError``."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from graphql import FragmentDefinitionNode, OperationType
from graphql.execution.values import get_variable_values
from redis.exceptions import RedisError

from core.caller import Caller
from router import limits
from router.apq import PersistedQueryError, PersistedQueryStore
from router.authorization import Authorized, Grants
from router.config import RouterConfig
from router.identity import Authenticator, Forbidden, Identity, Unauthenticated, Unavailable
from router.pipeline.errors import RouterError, unauthorized
from router.pipeline.operation import Document, Params, PreparedOperation, Transport
from router.pipeline.runtime import Served
from router.planner.errors import PlanningError
from router.planner.planner import PlannedOperation, select_operation
from router.policy import grants_of
from router.ratelimit import (
    Bucket,
    KeyUse,
    RateLimiter,
    Spent,
    Usage,
    organization_window,
    usage_of,
)
from router.telemetry import Metrics, Outcome
from subgraphs.billing.contract import API_REQUESTS_METER

QUOTA_WARNING = "x-quota-exceeded"
RETRY = {"retry-after": "1"}

Authorize = Callable[[Caller], Grants]
"""The authorization stage's grants for a caller, checked against the supergraph's
``@authenticated``, ``@requiresScopes`` and ``@policy``."""
Sign = Callable[[Caller], Callable[[str], Mapping[str, str]]]
"""For one request's caller, the headers of each of its subgraph requests (its signed
context)."""


class Pipeline:
    def __init__(
        self,
        *,
        config: RouterConfig,
        authenticator: Authenticator,
        limiter: RateLimiter,
        persisted: PersistedQueryStore,
        metrics: Metrics,
        sign: Sign,
        introspection: bool,
        authorize: Authorize = grants_of,
    ) -> None:
        self.config = config
        self.authenticator = authenticator
        self.limiter = limiter
        self.persisted = persisted
        self.metrics = metrics
        self.sign = sign
        self.introspection = introspection
        self.authorize = authorize
        self.quota_exempt = frozenset(config.rate_limits.quota_exempt)
        self._last_grants: tuple[Caller, Grants] | None = None

    # caller ------------------------------------------------------------------------------------

    async def identify(self, headers: Mapping[str, str], client_ip: str | None) -> Identity:
        started = time.perf_counter()
        try:
            return await self.authenticator.identify(headers, client_ip)
        except Unauthenticated as exc:
            raise RouterError(401, "UNAUTHENTICATED", str(exc)) from None
        except Forbidden as exc:
            raise RouterError(403, "FORBIDDEN", str(exc)) from None
        except Unavailable as exc:
            raise RouterError(503, "SERVICE_UNAVAILABLE", str(exc), RETRY) from None
        finally:
            self.metrics.stage("identify", time.perf_counter() - started)

    async def admit(self, headers: Mapping[str, str], client_ip: str | None) -> Identity:
        """The caller of a connection (a WebSocket's ``connection_init``), refused before it is
        acknowledged when its credentials are not valid or its session has ended."""
        identity = await self.identify(headers, client_ip)
        if identity.caller.session_id is not None:
            await self._spend(identity.caller, [], None, None)
        return identity

    # one operation -----------------------------------------------------------------------------

    async def prepare(
        self, served: Served, params: Params, identity: Identity, transport: Transport
    ) -> PreparedOperation:
        started = time.perf_counter()
        try:
            prepared = await self._check(served, params, identity, transport)
        finally:  # a refused operation's time counts too
            self.metrics.stage("prepare", time.perf_counter() - started)
        limited = time.perf_counter()
        services = prepared.planned.services
        exempt = bool(services) and services <= self.quota_exempt
        headers = await self._rate_limit(identity, prepared.name, quota_exempt=exempt)
        self.metrics.stage("rate_limit", time.perf_counter() - limited)
        return prepared.limited(headers)

    async def _check(
        self, served: Served, params: Params, identity: Identity, transport: Transport
    ) -> PreparedOperation:
        """The operation read, checked against the limits and authorized, and planned."""
        params = await self._persisted(params)
        document = self.document(served, params)
        _allowed_over(document.kind, transport)
        variables = _variables(served, document, params)
        measure = document.measure or self._measure(served, document, variables)
        violation = limits.check_shape(
            measure, self.config.limits, introspection=self.introspection
        )
        if violation is not None:
            raise RouterError(400, violation.code, violation.message)
        grants = self._grants(identity.caller)
        authorized = served.access.authorize(document.document, document.name, grants)
        refusals = authorized.errors(variables) if authorized.denied else []
        if authorized.refused:
            # Still spent and counted: a key's refusals show in its usage as rejected.
            raise unauthorized(refusals, await self._rate_limit(identity, document.name, True))
        planned = _plan(served, document, authorized, grants)
        spent = limits.cost(measure, planned.plan, self.config.limits)
        violation = limits.check_cost(spent, self.config.limits)
        if violation is not None:
            raise RouterError(400, violation.code, violation.message)
        return PreparedOperation(document, variables, measure, planned, spent, {}, tuple(refusals))

    def _grants(self, caller: Caller) -> Grants:
        """The caller's grants. The last caller's are kept: identities are cached, so the same
        caller object comes again for the next request of a key or an address."""
        last = self._last_grants
        if last is not None and last[0] is caller:
            return last[1]
        grants = self.authorize(caller)
        self._last_grants = (caller, grants)
        return grants

    async def _persisted(self, params: Params) -> Params:
        if params.extensions is None and not self.persisted.config.persisted_only:
            return params
        try:
            query = await self.persisted.resolve(params.query, params.extensions)
        except PersistedQueryError as exc:
            status = 200 if exc.code == "PERSISTED_QUERY_NOT_FOUND" else 400
            raise RouterError(status, exc.code, str(exc)) from None
        except RedisError:
            raise RouterError(
                503, "SERVICE_UNAVAILABLE", "Persisted queries cannot be read right now.", RETRY
            ) from None
        return Params(query, params.operation_name, params.variables, params.extensions)

    def document(self, served: Served, params: Params) -> Document:
        """The operation to run, parsed and validated once per source and name."""
        if params.query is None:
            raise RouterError(400, "BAD_REQUEST", "Must provide query string.")
        key = (params.query, params.operation_name)
        found = served.documents.get(key)
        if found is not None:
            served.documents.move_to_end(key)
            return found
        checked = served.engine.documents.get(params.query)
        if checked.document is None:
            first = checked.errors[0]
            code = first["extensions"]["code"]
            raise RouterError(400, code, first["message"], errors=checked.errors)
        try:
            operation = select_operation(checked.document, params.operation_name)
        except PlanningError as exc:
            raise RouterError(400, "GRAPHQL_VALIDATION_FAILED", str(exc)) from None
        fragments = {
            d.name.value: d
            for d in checked.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        name = operation.name.value if operation.name else None
        found = Document(params.query, checked.document, operation, fragments, name, None)
        if not operation.variable_definitions:
            found = replace(found, measure=self._measure(served, found, {}))
        served.remember(key, found)
        return found

    def _measure(
        self, served: Served, document: Document, variables: Mapping[str, Any]
    ) -> limits.Measure:
        schema = served.engine.supergraph.api_schema
        return limits.measure(
            schema,
            served.demand,
            document.operation,
            document.fragments,
            variables,
            self.config.limits,
        )

    async def _rate_limit(
        self,
        identity: Identity,
        operation: str | None,
        denied: bool = False,
        quota_exempt: bool = False,
    ) -> Mapping[str, str]:
        """Refuse the caller's ended session, spend its rate limits, for an organization's
        operation that runs (and is not exempt) count it against its monthly quota, and count a
        key's use; one Redis round trip."""
        rules = self.config.rate_limits
        caller = identity.caller
        buckets = self._buckets(identity, operation) if rules.enabled else []
        counted = not (denied or quota_exempt)
        usage = usage_of(caller, identity.soft_quota) if counted else None
        key = (
            KeyUse(caller.org_id, caller.key_id, denied)
            if caller.key_id is not None and caller.org_id is not None
            else None
        )
        if not (buckets or usage or caller.session_id or key):
            return {}  # nothing to check or count: no Redis round trip
        spent = await self._spend(caller, buckets, usage, key)
        verdict = spent.verdict
        refused = verdict is not None and not verdict.allowed
        headers = verdict.headers() if verdict is not None else {}
        if refused:
            self.metrics.rate_limited.inc()
            raise RouterError(429, "RATE_LIMITED", "Too many requests; slow down.", headers)
        quota = self._quota(spent, usage)
        return headers | quota if quota else headers

    async def _spend(
        self, caller: Caller, buckets: list[Bucket], usage: Usage | None, key: KeyUse | None
    ) -> Spent:
        """One round trip to the rate limiter; an ended session is refused."""
        now = datetime.now(UTC) if usage is not None or key is not None else None
        try:
            spent = await self.limiter.spend(buckets, usage, now, caller.session_id, key)
        except RedisError:
            what = "Sessions" if caller.session_id else "Rate limits"
            raise RouterError(
                503, "SERVICE_UNAVAILABLE", f"{what} cannot be checked right now.", RETRY
            ) from None
        if spent.ended:
            raise RouterError(401, "UNAUTHENTICATED", "This session has ended; log in again.")
        return spent

    def _quota(self, spent: Spent, usage: Usage | None) -> dict[str, str]:
        """Past a hard quota the operation is refused; past a soft one it runs, with a
        warning header naming the meter."""
        if usage is None or usage.quota is None or spent.used is None:
            return {}
        if _over_hard_quota(spent, usage):
            self.metrics.rate_limited.inc()
            code, message = (
                (
                    "SPEND_CAP_REACHED",
                    "The organization's overage spending cap of this month is "
                    "reached; an owner may raise it.",
                )
                if usage.capped
                else (
                    "QUOTA_EXCEEDED",
                    f"The organization has used its {usage.quota} requests "
                    "of this month; upgrade its plan or wait for the next month.",
                )
            )
            raise RouterError(429, code, message, extensions={"meter": API_REQUESTS_METER})
        if spent.used > usage.quota:
            return {QUOTA_WARNING: f"{API_REQUESTS_METER}; used={spent.used}; limit={usage.quota}"}
        return {}

    def _buckets(self, identity: Identity, operation: str | None) -> list[Bucket]:
        rules = self.config.rate_limits
        caller = identity.caller
        buckets = []
        if caller.key_id is not None and identity.key_limit is not None:
            buckets.append(Bucket(f"key:{caller.key_id}", identity.key_limit))
        if caller.org_id is not None:
            window = organization_window(caller, rules, identity.plan)
            if window is not None:
                buckets.append(Bucket(f"org:{caller.org_id}", window))
        elif caller.user_id is not None:
            buckets.append(Bucket(f"user:{caller.user_id}", rules.users))
        elif caller.key_id is None:
            buckets.append(Bucket(f"addr:{caller.client_ip}", rules.anonymous))
        if operation in rules.operations:
            who = caller.key_id or caller.user_id or caller.client_ip
            buckets.append(Bucket(f"op:{operation}:{who}", rules.operations[operation]))
        return buckets

    def record(
        self,
        name: str | None,
        caller: Caller,
        outcome: Outcome,
        started: float,
        status: int,
        fetches: int,
    ) -> None:
        """Telemetry of one operation, from its result."""
        seconds = time.perf_counter() - started
        self.metrics.operation(name, caller, outcome, seconds, status=status, fetches=fetches)

    # running -----------------------------------------------------------------------------------

    def signer(self, caller: Caller) -> Callable[[str], Mapping[str, str]]:
        """The executor's headers for each subgraph: the caller's signed context."""
        return self.sign(caller)

    async def execute(
        self,
        served: Served,
        prepared: PreparedOperation,
        caller: Caller,
        event: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The operation's result (for a subscription, from one ``event``), with the errors of
        what authorization removed."""
        started = time.perf_counter()
        try:
            return await served.engine.executor.execute(
                prepared.planned,
                prepared.variables,
                self.signer(caller),
                event=event,
                errors=list(prepared.refusals),
            )
        finally:
            self.metrics.stage("execute", time.perf_counter() - started)


def _over_hard_quota(spent: Spent, usage: Usage | None) -> bool:
    """A request the hard quota kept out of the month's count (a refused bucket counts none)."""
    allowed = spent.verdict is None or spent.verdict.allowed
    return (
        usage is not None
        and usage.hard
        and usage.quota is not None
        and allowed
        and not spent.counted
    )


def _allowed_over(kind: OperationType, transport: Transport) -> None:
    if transport is Transport.GET and kind != OperationType.QUERY:
        raise RouterError(405, "METHOD_NOT_ALLOWED", "GET requests may only run queries.")
    if kind == OperationType.SUBSCRIPTION and transport in (Transport.GET, Transport.POST):
        raise RouterError(
            400,
            "BAD_REQUEST",
            "Subscriptions are served over WebSocket or multipart HTTP "
            "('Accept: multipart/mixed').",
        )


def _variables(served: Served, document: Document, params: Params) -> dict[str, Any]:
    if not document.operation.variable_definitions:
        return {}
    coerced = get_variable_values(
        served.engine.supergraph.api_schema,
        document.operation.variable_definitions or (),
        dict(params.variables or {}),
    )
    if isinstance(coerced, list):
        message = coerced[0].message if coerced else "Invalid variables."
        raise RouterError(400, "BAD_USER_INPUT", message)
    return coerced.coerced


def _plan(
    served: Served, document: Document, authorized: Authorized, grants: Grants
) -> PlannedOperation:
    engine = served.engine
    labels = engine.enabled_labels()
    try:
        if authorized.document is document.document:
            return engine.planner.plan_for(
                document.source, document.document, document.name, labels
            )
        assert authorized.document is not None  # noqa: S101 - a refused operation is not planned
        return served.pruned_plan(document, authorized.document, grants, labels)
    except PlanningError as exc:
        raise RouterError(500, "QUERY_PLANNING_FAILED", str(exc)) from None
