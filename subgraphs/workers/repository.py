"""The workers tables and the runs' checkpoints: the queries, inserts and locking reads the job
service runs inside its transactions. No rules here; the service decides what to read and
write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from sqlalchemy import delete, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import set_local, upsert_if_newer, utcnow
from subgraphs.workers.models import (
    UNFINISHED,
    Approval,
    ApprovalStatus,
    Job,
    OrganizationLimit,
    OrganizationMembers,
    Status,
)


async def job_by_key(session: AsyncSession, org_id: UUID, key: str) -> Job | None:
    found = await session.exec(select(Job).where(Job.org_id == org_id, Job.idempotency_key == key))
    return found.first()


async def insert_job(session: AsyncSession, job: Job) -> bool:
    """Store ``job`` unless its organization has a job of its idempotency key; whether it was."""
    inserted = await session.exec(
        insert(Job)
        .values(**job.model_dump())
        .on_conflict_do_nothing(index_elements=["org_id", "idempotency_key"])
        .returning(col(Job.id))
    )
    return inserted.first() is not None


async def locked_unfinished(session: AsyncSession, org_id: UUID, key: str) -> list[Job]:
    """The organization's unfinished jobs of concurrency key ``key``, locked."""
    rows = await session.exec(
        select(Job)
        .where(Job.org_id == org_id, Job.concurrency_key == key, col(Job.status).in_(UNFINISHED))
        .with_for_update()
    )
    return list(rows)


async def delete_jobs(session: AsyncSession, ids: list[UUID]) -> None:
    await session.exec(delete(Job).where(col(Job.id).in_(ids)))


async def locked_job(session: AsyncSession, org_id: UUID, job_id: UUID) -> Job | None:
    query = select(Job).where(Job.id == job_id, Job.org_id == org_id).with_for_update()
    return (await session.exec(query)).first()


async def locked_approval(session: AsyncSession, approval_id: UUID) -> Approval | None:
    return await session.get(Approval, approval_id, with_for_update=True)


async def job_of_approval(session: AsyncSession, approval_id: UUID) -> UUID | None:
    """The job an approval belongs to, read without loading (or locking) the approval."""
    found = await session.exec(select(Approval.job_id).where(Approval.id == approval_id))
    return found.first()


async def interrupts_asked(session: AsyncSession, job_id: UUID) -> set[str]:
    """The interrupts of the job that have an approval already."""
    found = await session.exec(select(Approval.interrupt_id).where(Approval.job_id == job_id))
    return set(found)


async def jobs_by_id(session: AsyncSession, org_id: UUID, ids: Sequence[UUID]) -> dict[UUID, Job]:
    rows = await session.exec(select(Job).where(col(Job.id).in_(list(ids)), Job.org_id == org_id))
    return {job.id: job for job in rows}


async def jobs_page(
    session: AsyncSession,
    org_id: UUID,
    *,
    status: Status | None,
    kind: str | None,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Job]:
    """The organization's jobs, newest first, those created before ``before`` (time, id)."""
    query = select(Job).where(Job.org_id == org_id)
    if status is not None:
        query = query.where(Job.status == status.value)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if before is not None:
        query = query.where(tuple_(col(Job.created_at), col(Job.id)) < tuple_(*before))
    query = query.order_by(col(Job.created_at).desc(), col(Job.id).desc()).limit(limit)
    return list(await session.exec(query))


async def runs_to_prune(
    session: AsyncSession, kind: str, finished_before: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    """Organization and id of runs of ``kind`` finished by then and not pruned yet, in every
    organization, the oldest first."""
    await set_local(session, "app.sweep", "jobs")
    rows = await session.exec(
        select(Job.org_id, Job.id)
        .where(
            Job.kind == kind,
            col(Job.pruned_at).is_(None),
            col(Job.finished_at) <= finished_before,
        )
        .order_by(col(Job.finished_at))
        .limit(limit)
    )
    return list(rows)


async def pending_approvals(session: AsyncSession, org_id: UUID, limit: int) -> list[Approval]:
    """The organization's open approvals not expired yet of runs still waiting, oldest first."""
    rows = await session.exec(
        select(Approval)
        .join(Job, col(Job.id) == col(Approval.job_id))
        .where(
            Approval.org_id == org_id,
            Approval.status == ApprovalStatus.PENDING.value,
            col(Approval.expires_at) > utcnow(),
            Job.status == Status.WAITING.value,
        )
        .order_by(col(Approval.created_at))
        .limit(limit)
    )
    return list(rows)


async def approvals_of(
    session: AsyncSession, org_id: UUID | None, job_ids: Sequence[UUID]
) -> dict[UUID, list[Approval]]:
    """Each job's approvals, oldest first."""
    rows = await session.exec(
        select(Approval)
        .where(col(Approval.job_id).in_(list(job_ids)), Approval.org_id == org_id)
        .order_by(col(Approval.created_at))
    )
    found: dict[UUID, list[Approval]] = {}
    for approval in rows:
        found.setdefault(approval.job_id, []).append(approval)
    return found


async def members_of(session: AsyncSession, org_id: UUID) -> dict[str, str]:
    """The organization's members (user id -> role), as tenancy last announced them."""
    found = await session.get(OrganizationMembers, org_id)
    return dict(found.roles) if found else {}


async def record_members(
    session: AsyncSession, org_id: UUID, roles: dict[str, str], as_of: datetime
) -> None:
    """Store the members unless a newer list is already stored."""
    row = {"org_id": org_id, "roles": roles, "as_of": as_of}
    table = OrganizationMembers.__table__  # type: ignore[attr-defined]
    await upsert_if_newer(session, table, row, key="org_id")


async def organization_plan(session: AsyncSession, org_id: UUID) -> OrganizationLimit | None:
    """What billing last announced of the organization's plan."""
    return await session.get(OrganizationLimit, org_id)


async def record_plan(session: AsyncSession, plan: OrganizationLimit) -> bool:
    """Store the plan unless a newer one is already stored; whether it was."""
    row: dict[str, object] = plan.model_dump()
    table = OrganizationLimit.__table__  # type: ignore[attr-defined]
    await upsert_if_newer(session, table, row, key="org_id")
    stored = select(OrganizationLimit.as_of).where(OrganizationLimit.org_id == plan.org_id)
    return bool((await session.exec(stored)).one() == plan.as_of)


async def reschedule_forgetting(session: AsyncSession, org_id: UUID, days: int | None) -> None:
    """The organization's pruned runs lose their last checkpoint ``days`` after they finished
    (None: never)."""
    forget_at = None if days is None else col(Job.finished_at) + timedelta(days=days)
    await session.exec(
        update(Job)
        .where(
            col(Job.org_id) == org_id,
            col(Job.pruned_at).is_not(None),
            col(Job.forgotten_at).is_(None),
        )
        .values(forget_at=forget_at)
    )


async def runs_to_forget(
    session: AsyncSession, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    """Organization and id of runs whose history window is over, in every organization."""
    await set_local(session, "app.sweep", "jobs")
    rows = await session.exec(
        select(Job.org_id, Job.id)
        .where(col(Job.forget_at) <= now, col(Job.forgotten_at).is_(None))
        .order_by(col(Job.forget_at))
        .limit(limit)
    )
    return list(rows)


async def checkpoints(
    connection: AsyncConnection[DictRow], threads: list[str]
) -> list[dict[str, Any]]:
    """The top-level checkpoints of ``threads`` in order: thread_id, id, step, source, at."""
    rows = await connection.execute(
        "select thread_id, checkpoint_id as id, (metadata->>'step')::int as step,"
        " metadata->>'source' as source, checkpoint->>'ts' as at from checkpoints"
        " where thread_id = any(%s) and checkpoint_ns = '' order by checkpoint_id",
        (threads,),
    )
    return await rows.fetchall()
