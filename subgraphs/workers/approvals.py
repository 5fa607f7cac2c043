"""Approvals: what opens one for each interrupt a run waits at (its approvers as the workflow
declares them, members only; single-use approve and reject links for each of them, named or
holding an approving role; the notification through the outbox) and what a decision, an
expiry or an escalation changes. These functions work inside the caller's transaction; the job
service holds the transactions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from subgraphs.kernel.db import set_local, utcnow
from subgraphs.kernel.tokens import new_token, token_hash
from subgraphs.notifications.contract import NotificationRequest, Recipient, stage_notification
from subgraphs.workers import repository
from subgraphs.workers.contract import (
    APPROVAL_PATH,
    APPROVAL_TEMPLATE,
    APPROVALS_CATEGORY,
    WORKFLOWS,
    ApprovalPolicy,
    Approvers,
)
from subgraphs.workers.kinds import JobFailed
from subgraphs.workers.models import Approval, ApprovalLink, ApprovalStatus, Job

DECISIONS = ("approve", "reject")
# The error of a run that named an approver outside its organization (it is not retried).
APPROVER_NOT_MEMBER = "APPROVER_NOT_MEMBER"
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


def _holders(members: dict[str, str], roles: Iterable[str]) -> set[str]:
    """The members holding one of ``roles``."""
    wanted = set(roles)
    return {user for user, role in members.items() if role in wanted}


def may_decide(approval: Approval, user_id: UUID, members: dict[str, str]) -> bool:
    """Whether ``user_id`` is, now, a member of the organization who may decide ``approval``."""
    role = members.get(str(user_id))
    return role is not None and approval.allows(user_id, frozenset({role}))


async def open_approval(
    session: AsyncSession, public_url: str, job: Job, interrupt: dict[str, Any]
) -> Approval:
    """The approval of ``job``'s interrupt, its approvers (named members and role holders)
    notified with their links; a named approver outside the organization fails the run."""
    policy = policy_of(job)
    approvers = policy.approvers
    members = await repository.members_of(session, job.org_id)
    users = {str(u) for u in approvers.users} | _named_users(interrupt["payload"])
    strangers = sorted(users - set(members))
    if strangers:
        raise JobFailed(
            APPROVER_NOT_MEMBER,
            f"Not members of the organization: {', '.join(strangers)}.",
        )
    notified = users | _holders(members, approvers.roles)
    if not notified and job.created_by is not None and str(job.created_by) in members:
        # Nobody else may decide: the run's starter does.
        users = notified = {str(job.created_by)}
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
    await _notify(session, public_url, approval, sorted(notified), "opened")
    return approval


async def escalate(
    session: AsyncSession, public_url: str, job: Job, approval: Approval, now: datetime
) -> None:
    """Widen the approvers to the workflow's escalation approvers (members only), for another
    period; those who could not decide before are notified."""
    policy = policy_of(job)
    extra: Approvers = policy.escalate_to
    members = await repository.members_of(session, job.org_id)
    before = set(approval.users) | _holders(members, approval.roles)
    approval.roles = sorted(set(approval.roles) | extra.roles)
    approval.users = sorted(set(approval.users) | ({str(u) for u in extra.users} & set(members)))
    approval.escalated = True
    approval.expires_at = now + timedelta(seconds=policy.expires_after_seconds)
    session.add(approval)
    added = set(approval.users) | _holders(members, approval.roles)
    await _notify(session, public_url, approval, sorted(added - before), "escalated")


async def _notify(
    session: AsyncSession, public_url: str, approval: Approval, users: list[str], round: str
) -> None:
    for user in users:
        user_id = UUID(user)
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
