"""Metered usage: a subgraph reports what an organization used (a ticket opened, a job run, a
notification sent) in the transaction of the change, through the outbox; the job it stages is
run by billing, whose ledger keeps each report once per key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import utcnow
from subgraphs.kernel.outbox import stage_job

# Billing's contract names this job too; it is defined here because the kernel may not import a
# domain, and every subgraph that meters usage stages it.
RECORD_USAGE_JOB = "billing.record_usage"
_METER = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_KEY = 200


@dataclass(frozen=True)
class UsageRecord:
    """``quantity`` units of ``meter`` used by ``org_id``; ``key`` is unique per use, so a
    report sent twice is counted once."""

    org_id: UUID
    meter: str
    quantity: int
    occurred_at: datetime
    key: str

    def __post_init__(self) -> None:
        if not _METER.match(self.meter) or self.quantity <= 0 or not 0 < len(self.key) <= MAX_KEY:
            raise ValueError(f"not a usage record: {self.meter!r} {self.quantity} {self.key!r}")

    def as_job(self) -> dict[str, Any]:
        return {
            "org_id": str(self.org_id),
            "meter": self.meter,
            "quantity": self.quantity,
            "occurred_at": self.occurred_at.isoformat(),
            "key": self.key,
        }

    @classmethod
    def from_job(cls, payload: dict[str, Any]) -> UsageRecord:
        return cls(
            org_id=UUID(payload["org_id"]),
            meter=payload["meter"],
            quantity=int(payload["quantity"]),
            occurred_at=datetime.fromisoformat(payload["occurred_at"]),
            key=payload["key"],
        )


async def record_usage(
    session: AsyncSession, org_id: UUID, meter: str, quantity: int, key: str
) -> None:
    """Count ``quantity`` of ``meter`` for ``org_id`` once the transaction commits (and not if
    it rolls back); ``key`` names the use (``ticket:<id>``), so resending is harmless."""
    record = UsageRecord(org_id, meter, quantity, utcnow(), key)
    await stage_job(session, RECORD_USAGE_JOB, record.as_job(), job_id=f"{RECORD_USAGE_JOB}:{key}")
