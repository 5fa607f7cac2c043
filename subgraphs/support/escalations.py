"""Escalation rules an organization's owners and admins define: when a clock warns or breaches
(any clock, or one), reassign the ticket in a team, raise its priority, or notify a team's
admins. The SLA watch runs them in order."""

from __future__ import annotations

from uuid import UUID

from sqlmodel import col, func, select

from core.caller import Caller
from subgraphs.kernel import validation
from subgraphs.kernel.db import Database
from subgraphs.kernel.errors import ErrorCode, existing, require
from subgraphs.support import sla
from subgraphs.support.access import managed
from subgraphs.support.models import EscalationAction, EscalationLevel, EscalationRule, Team

MAX_RULES = 50


class Escalations:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        caller: Caller,
        org_id: UUID,
        name: str,
        level: EscalationLevel,
        action: EscalationAction,
        clock: str | None,
        team_id: UUID | None,
    ) -> EscalationRule:
        managed(caller, org_id)
        name = validation.text(name, "name", max_length=100)
        require(
            action is not EscalationAction.REASSIGN or team_id is not None,
            ErrorCode.INVALID_INPUT,
            "Reassigning needs a team.",
            "teamId",
        )
        require(
            clock is None or clock in sla.CLOCKS, ErrorCode.INVALID_INPUT, "Unknown clock.", "clock"
        )
        async with self.db.transaction(caller) as session:
            if team_id is not None:
                team = await session.get(Team, team_id)
                existing(team if team and team.org_id == org_id else None, "team")
            count = await session.exec(
                select(func.count())
                .select_from(EscalationRule)
                .where(EscalationRule.org_id == org_id)
            )
            position = int(count.one())
            require(
                position < MAX_RULES,
                ErrorCode.INVALID_INPUT,
                f"At most {MAX_RULES} escalation rules.",
                "name",
            )
            rule = EscalationRule(
                org_id=org_id,
                name=name,
                level=level.value,
                action=action.value,
                clock=clock,
                team_id=team_id,
                position=position,
            )
            session.add(rule)
        return rule

    async def of(self, caller: Caller, org_id: UUID) -> list[EscalationRule]:
        if caller.org_id != org_id:
            return []
        async with self.db.transaction(caller) as session:
            rows = await session.exec(
                select(EscalationRule)
                .where(EscalationRule.org_id == org_id)
                .order_by(col(EscalationRule.position))
            )
            return list(rows)
