"""Approvals: what opens one when a run waits at its interrupt (its approvers as the workflow
declares them, single-use approve and reject links for each notified approver, the notification
through the outbox) and what a decision, an expiry or an escalation changes. These functions
work inside the caller's transaction; the job service holds the transactions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import set_local, utcnow
from subgraphs.kernel.tokens import new_token, token_hash
from subgraphs.notifications.contract import NotificationRequest, Recipient, stage_notification
from subgraphs.workers.contract import (
    APPROVAL_PATH,
    APPROVAL_TEMPLATE,
    APPROVALS_CATEGORY,
    WORKFLOWS,
    ApprovalPolicy,
    Approvers,
)
from subgraphs.workers.models import Approval, ApprovalLink, ApprovalStatus, Job

DECISIONS = ("approve", "reject")
MAX_QUESTION = 500


def policy_of(job: Job) -> ApprovalPolicy:
    workflow = WORKFLOWS.get(job.payload.get("workflow", ""))
    return workflow.approval if workflow else ApprovalPolicy()


def _named_users(payload: Any) -> set[str]:
    """The user ids an interrupt's payload names under ``approvers`` (anything else ignored)."""
    named = payload.get("approvers") if isinstance(payload, dict) else None
    if not isinstance(named, list):
        return set()
    users = set()
    for value in named:
        try:
            users.add(str(UUID(str(value))))
        except ValueError:
            continue
    return users


def question_of(payload: Any) -> str:
    if isinstance(payload, dict) and isinstance(payload.get("question"), str):
        return str(payload["question"])[:MAX_QUESTION]
    return "A workflow run waits for your decision."


async def open_approval(
    session: AsyncSession, public_url: str, job: Job, interrupt: dict[str, Any]
) -> Approval:
    """The approval of ``job``'s interrupt, its approvers notified with their links."""
    policy = policy_of(job)
    approvers = policy.approvers
    users = {str(u) for u in approvers.users} | _named_users(interrupt["payload"])
    approval = Approval(
        org_id=job.org_id,
        job_id=job.id,
        interrupt_id=str(interrupt["id"]),
        workflow=job.payload.get("workflow", job.kind),
        payload=interrupt["payload"],
        roles=sorted(approvers.roles),
        users=sorted(users),
        expires_at=utcnow() + timedelta(seconds=policy.expires_after_seconds),
    )
    session.add(approval)
    await session.flush()
    notified = sorted(users) or ([str(job.created_by)] if job.created_by else [])
    await _notify(session, public_url, approval, [UUID(u) for u in notified], "opened")
    return approval


async def escalate(
    session: AsyncSession, public_url: str, job: Job, approval: Approval, now: datetime
) -> None:
    """Widen the approvers to the workflow's escalation approvers, for another period."""
    policy = policy_of(job)
    extra: Approvers = policy.escalate_to
    added = {str(u) for u in extra.users} - set(approval.users)
    approval.roles = sorted(set(approval.roles) | extra.roles)
    approval.users = sorted(set(approval.users) | added)
    approval.escalated = True
    approval.expires_at = now + timedelta(seconds=policy.expires_after_seconds)
    session.add(approval)
    notified = sorted(added) or ([str(job.created_by)] if job.created_by else [])
    await _notify(session, public_url, approval, [UUID(u) for u in notified], "escalated")


async def _notify(
    session: AsyncSession, public_url: str, approval: Approval, users: list[UUID], round: str
) -> None:
    for user_id in users:
        links: dict[str, str] = {}
        for decision in DECISIONS:
            token, hashed = new_token()
            session.add(
                ApprovalLink(
                    org_id=approval.org_id,
                    approval_id=approval.id,
                    user_id=user_id,
                    decision=decision,
                    token_hash=hashed,
                )
            )
            links[decision] = f"{public_url}/assets/workers{APPROVAL_PATH}/{token}"
        await stage_notification(
            session,
            NotificationRequest(
                template_key=APPROVAL_TEMPLATE,
                category=APPROVALS_CATEGORY,
                recipients=[Recipient(user_id=user_id)],
                idempotency_key=f"workers:approval:{approval.id}:{round}:{user_id}",
                data={
                    "workflow": approval.workflow,
                    "question": question_of(approval.payload),
                    "approve": links["approve"],
                    "reject": links["reject"],
                },
                channels=["in_app", "email"],
                org_id=approval.org_id,
            ),
        )


async def link_of(session: AsyncSession, token: str) -> ApprovalLink | None:
    """The link of ``token``; its organization is then set on the transaction."""
    await set_local(session, "app.token_hash", token_hash(token))
    found = await session.exec(
        select(ApprovalLink).where(ApprovalLink.token_hash == token_hash(token))
    )
    link = found.first()
    if link is not None:
        await set_local(session, "app.org_id", link.org_id)
    return link


def record(
    approval: Approval, status: ApprovalStatus, by: UUID | None, via: str, comment: str | None
) -> None:
    """The audit of a decision: who, when, how and why."""
    approval.status = status.value
    approval.decided_by, approval.decided_at = by, utcnow()
    approval.decided_via, approval.comment = via, comment


async def locked(session: AsyncSession, job_id: UUID, interrupt_id: str) -> Approval | None:
    query = (
        select(Approval)
        .where(Approval.job_id == job_id, Approval.interrupt_id == interrupt_id)
        .with_for_update()
    )
    return (await session.exec(query)).first()


async def due(session: AsyncSession, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """(organization, approval) of pending approvals past their expiry, in every organization."""
    await set_local(session, "app.sweep", "approvals")
    rows = await session.exec(
        select(Approval.org_id, Approval.id)
        .where(Approval.status == ApprovalStatus.PENDING.value, col(Approval.expires_at) <= now)
        .order_by(col(Approval.expires_at))
        .limit(limit)
    )
    return [(org, approval) for org, approval in rows]
