"""The usage ledger: every use kept once per key with its hour's sum, the router's hourly
request counters moved in from Redis once their hour is over, and the usage of a range of
hours, counters not yet moved included."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast
from uuid import UUID, uuid4

from redis.asyncio import Redis
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import Caller
from subgraphs.billing.contract import (
    API_REQUESTS_METER,
    HOURLY_REQUESTS_PATTERN,
    hourly_requests_key,
)
from subgraphs.billing.models import UsageEvent, UsageHour
from subgraphs.kernel.db import Database, utcnow
from subgraphs.kernel.usage import UsageRecord

log = logging.getLogger("vetrai.billing.ledger")
ROUTER = "router"
_FLUSH_LOCK = "vetrai:billing:flush-requests:lock"
# A router's last increments of an hour may land a little after it ends (clocks differ).
SETTLE = timedelta(minutes=2)
# How far back the usage of a range also reads the router's counters still in Redis: the
# flush runs every minute, so only a flush stopped for two days leaves older counters there.
UNFLUSHED_HOURS = 48
_DELETE_IF_UNCHANGED = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def router_key(org_id: UUID, hour: datetime) -> str:
    """The ledger's key for the router's count of one organization's requests in one hour."""
    return f"{ROUTER}:{org_id}:{hour:%Y%m%d%H}"


def parse_counter(name: str) -> tuple[UUID, datetime] | None:
    """The organization and hour of a router counter's name; None for another name."""
    org, _, stamp = name.removeprefix(HOURLY_REQUESTS_PATTERN[:-1]).partition(":")
    try:
        return UUID(org), datetime.strptime(stamp, "%Y%m%d%H").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Counter:
    name: str
    org_id: UUID
    hour: datetime
    count: str


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def _add_to_hour(
    session: AsyncSession, org_id: UUID, meter: str, hour: datetime, quantity: int
) -> None:
    insert = pg_insert(UsageHour).values(org_id=org_id, meter=meter, hour=hour, quantity=quantity)
    await session.exec(
        insert.on_conflict_do_update(
            index_elements=[col(UsageHour.org_id), col(UsageHour.meter), col(UsageHour.hour)],
            set_={"quantity": col(UsageHour.quantity) + insert.excluded.quantity},
        )
    )


# Told, in the ledger's transaction, what an organization's use of a meter grew by.
Added = Callable[[AsyncSession, UUID, str, int], Awaitable[None]]


async def _nothing(*_: object) -> None:
    return None


class Ledger:
    def __init__(
        self, db: Database, redis: Redis, meters: frozenset[str], on_added: Added = _nothing
    ) -> None:
        self.db = db
        self.redis = redis
        self.meters = meters
        self.on_added = on_added

    # writing -----------------------------------------------------------------------------------

    async def record(self, record: UsageRecord) -> bool:
        """Keep one use (a meter no plan counts is dropped); False when its key was kept before."""
        if record.meter not in self.meters:
            log.warning("usage of an unknown meter dropped", extra={"fields": record.as_job()})
            return False
        async with self.db.transaction(Caller(org_id=record.org_id)) as session:
            inserted = await session.exec(
                pg_insert(UsageEvent)
                .values(
                    id=uuid4(),
                    org_id=record.org_id,
                    meter=record.meter,
                    quantity=record.quantity,
                    occurred_at=record.occurred_at,
                    idempotency_key=record.key,
                    source=record.key.partition(":")[0][:32],
                    recorded_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=[col(UsageEvent.idempotency_key)])
                .returning(col(UsageEvent.id))
            )
            if inserted.first() is None:
                return False
            hour = hour_of(record.occurred_at)
            await _add_to_hour(session, record.org_id, record.meter, hour, record.quantity)
            await self.on_added(session, record.org_id, record.meter, record.quantity)
        return True

    async def flush_requests(self, now: datetime | None = None) -> int:
        """Move the router's counters of hours that are over into the ledger, one row per
        organization and hour; returns how many counters were moved.

        The row holds the counter's value (not an increment), so a flush repeated after a
        failure changes nothing; the counter is deleted after the commit, and only if no
        request was counted meanwhile (then the next flush moves the larger count)."""
        if not await self.redis.set(_FLUSH_LOCK, 1, nx=True, ex=300):
            return 0
        try:
            counters = await self._settled_counters(hour_of((now or utcnow()) - SETTLE))
            by_org: dict[UUID, list[_Counter]] = {}
            for counter in counters:
                by_org.setdefault(counter.org_id, []).append(counter)
            for org_id, owned in by_org.items():
                async with self.db.transaction(Caller(org_id=org_id)) as session:
                    for counter in owned:
                        await self._store_count(session, counter)
                for counter in owned:
                    await self._delete_if_unchanged(counter)
            return len(counters)
        finally:
            await self.redis.delete(_FLUSH_LOCK)

    async def _delete_if_unchanged(self, counter: _Counter) -> None:
        script = self.redis.eval(_DELETE_IF_UNCHANGED, 1, counter.name, counter.count)
        await cast(Awaitable[int], script)

    async def _settled_counters(self, current_hour: datetime) -> list[_Counter]:
        found: list[_Counter] = []
        async for raw in self.redis.scan_iter(match=HOURLY_REQUESTS_PATTERN, count=1000):
            name = _text(raw)
            parsed = parse_counter(name)
            if parsed is None or parsed[1] >= current_hour:
                continue
            count = await self.redis.get(name)
            if count is not None:
                found.append(_Counter(name, parsed[0], parsed[1], _text(count)))
        return found

    async def _store_count(self, session: AsyncSession, counter: _Counter) -> None:
        count = int(counter.count)
        key = router_key(counter.org_id, counter.hour)
        rows = await session.exec(
            select(UsageEvent).where(UsageEvent.idempotency_key == key).with_for_update()
        )
        stored = rows.first()
        if stored is None:
            if count <= 0:
                return
            session.add(
                UsageEvent(
                    org_id=counter.org_id,
                    meter=API_REQUESTS_METER,
                    quantity=count,
                    occurred_at=counter.hour,
                    idempotency_key=key,
                    source=ROUTER,
                )
            )
            added = count
        elif count > stored.quantity:
            added, stored.quantity = count - stored.quantity, count
            session.add(stored)
        else:
            return
        await session.flush()
        await _add_to_hour(session, counter.org_id, API_REQUESTS_METER, counter.hour, added)
        await self.on_added(session, counter.org_id, API_REQUESTS_METER, added)

    # reading -----------------------------------------------------------------------------------

    async def total(
        self, caller: Caller, org_id: UUID, meter: str, start: datetime, end: datetime
    ) -> int:
        """Units of ``meter`` used by ``org_id`` in the hours from ``start`` up to ``end``
        (excluded), the router's counters still in Redis included; 0 for another organization."""
        return sum((await self.monthly(caller, org_id, meter, start, end)).values())

    async def monthly(
        self, caller: Caller, org_id: UUID, meter: str, start: datetime, end: datetime
    ) -> dict[date, int]:
        """``total``, per UTC calendar month (its first day) the hours touch."""
        found = await self.by_month(caller, org_id, start, end, meter)
        return {month: units for (month, _), units in found.items()}

    async def by_month(
        self,
        caller: Caller,
        org_id: UUID,
        start: datetime,
        end: datetime,
        meter: str | None = None,
    ) -> dict[tuple[date, str], int]:
        """What ``org_id`` used in the hours ``start`` to ``end`` (excluded), per UTC calendar
        month (its first day) and meter (only ``meter``, when given), the router's counters
        still in Redis included; empty for another organization."""
        if caller.org_id != org_id:
            return {}
        month = func.date_trunc("month", func.timezone("UTC", UsageHour.hour))
        query = select(month, UsageHour.meter, func.sum(UsageHour.quantity)).where(
            UsageHour.org_id == org_id, col(UsageHour.hour) >= start, col(UsageHour.hour) < end
        )
        if meter is not None:
            query = query.where(UsageHour.meter == meter)
        async with self.db.transaction(caller) as session:
            rows = await session.exec(query.group_by(month, UsageHour.meter))
            found = {(m.date(), name): int(units) for m, name, units in rows.all()}
            if meter in (None, API_REQUESTS_METER):
                for hour, count in (await self._unflushed(session, org_id, start, end)).items():
                    key = (hour.date().replace(day=1), API_REQUESTS_METER)
                    found[key] = found.get(key, 0) + count
        return found

    @staticmethod
    async def stored(
        session: AsyncSession, org_id: UUID, meter: str, start: datetime, end: datetime
    ) -> int:
        """What the ledger holds of ``meter`` for ``org_id`` in the hours ``start`` to ``end``."""
        rows = await session.exec(
            select(func.coalesce(func.sum(UsageHour.quantity), 0)).where(
                UsageHour.org_id == org_id,
                UsageHour.meter == meter,
                col(UsageHour.hour) >= start,
                col(UsageHour.hour) < end,
            )
        )
        return int(rows.one())

    async def _unflushed(
        self, session: AsyncSession, org_id: UUID, start: datetime, end: datetime
    ) -> dict[datetime, int]:
        """What the router counted beyond what the ledger holds, per hour still in Redis."""
        now = hour_of(utcnow())
        first = max(start, now - timedelta(hours=UNFLUSHED_HOURS))
        hours = _hours(first, min(end, now + timedelta(hours=1)))
        if not hours:
            return {}
        counted = await self.redis.mget([hourly_requests_key(str(org_id), h) for h in hours])
        keys = [router_key(org_id, h) for h in hours]
        rows = await session.exec(
            select(UsageEvent.idempotency_key, UsageEvent.quantity).where(
                col(UsageEvent.idempotency_key).in_(keys)
            )
        )
        stored = dict(rows.all())
        beyond = {
            hour: int(count or 0) - stored.get(key, 0)
            for hour, key, count in zip(hours, keys, counted, strict=True)
        }
        return {hour: count for hour, count in beyond.items() if count > 0}


def _hours(start: datetime, end: datetime) -> Sequence[datetime]:
    """The whole hours from ``start`` (a whole hour) up to ``end``."""
    count = max(0, int((end - start) / timedelta(hours=1)))
    return [start + timedelta(hours=i) for i in range(count)]
