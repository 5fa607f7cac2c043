"""The SLA watch, run by the worker every minute: clocks past 80 % (warning) and 100 % (breach)
of their target are notified inside business hours (urgent tickets at any hour), then the
organization's escalation rules for that level run (reassign, raise priority, notify a team's
admins). Each step goes into the ticket's log, so the timeline names the rule and a clock's run
is notified once however many workers watch (row locks, and a unique alert per run)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.caller import ANONYMOUS, Caller
from subgraphs.kernel.db import Database, set_local, utcnow
from subgraphs.support import assignment, eventlog, notices, sla
from subgraphs.support.calendar import ZERO, Calendar, add_business_time, business_time
from subgraphs.support.models import EscalationAction, EscalationRule, Priority, Team, Ticket

log = logging.getLogger("vetrai.support.watch")
BATCH = 500
MAX_BATCHES = 100
LADDER = [p.value for p in Priority]
NAMES = {
    sla.FIRST_RESPONSE: "first response",
    sla.NEXT_RESPONSE: "next response",
    sla.RESOLUTION: "resolution",
}


def open_at(calendar: Calendar, at: datetime) -> bool:
    return business_time(calendar, at, at + timedelta(seconds=1)) > ZERO


def next_opening(calendar: Calendar, at: datetime) -> datetime:
    """The first instant from ``at`` on inside business hours."""
    return add_business_time(calendar, at, timedelta(microseconds=1)) - timedelta(microseconds=1)


def raised(priority: str) -> str | None:
    step = LADDER.index(priority) + 1
    return LADDER[step] if step < len(LADDER) else None


class SlaWatch:
    def __init__(self, db: Database, public_url: str) -> None:
        self.db = db
        self.public_url = public_url

    async def run(self) -> int:
        """Notify and escalate what is due now; how many alerts were sent."""
        sent, seen = 0, set()
        for _ in range(MAX_BATCHES):
            due = [d for d in await self._due() if d not in seen]
            for org_id, ticket_id in due:
                sent += await self._checked(org_id, ticket_id)
            seen.update(due)
            if len(due) < BATCH:
                break
        return sent

    async def _due(self) -> list[tuple[UUID, UUID]]:
        """Tickets of every organization with an alert due: their ids only."""
        async with self.db.transaction(ANONYMOUS) as session:
            await set_local(session, "app.sla_watch", "on")
            rows = await session.exec(
                select(Ticket.org_id, Ticket.id)
                .where(col(Ticket.sla_alert_at) <= utcnow())
                .order_by(col(Ticket.sla_alert_at))
                .limit(BATCH)
            )
            return [(org, ticket) for org, ticket in rows.all()]

    async def _checked(self, org_id: UUID, ticket_id: UUID) -> int:
        """One ticket whose data the engine cannot read (say, a calendar with no hours left)
        must not hold back every other organization's alerts: it is logged and tried again
        next minute."""
        try:
            return await self._check(org_id, ticket_id)
        except (ValueError, LookupError):
            log.exception(
                "SLA watch skipped a ticket", extra={"fields": {"ticket": str(ticket_id)}}
            )
            return 0

    async def _check(self, org_id: UUID, ticket_id: UUID) -> int:
        async with self.db.transaction(Caller(org_id=org_id)) as session:
            rows = await session.exec(
                select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True)
            )
            ticket = rows.first()
            if ticket is None:  # another worker has it
                return 0
            now = utcnow()
            found = await eventlog.clocks(session, ticket, now)
            alerts = found.alerts()
            calendar = found.calendar
            urgent = ticket.priority == Priority.URGENT.value
            if alerts and calendar and not urgent and not open_at(calendar, now):
                eventlog.derive(ticket, found)
                ticket.sla_alert_at = next_opening(calendar, now)
                session.add(ticket)
                return 0
            for alert in alerts:
                await self._alert(session, ticket, alert, found)
            if not alerts:
                eventlog.derive(ticket, found)
                session.add(ticket)
            return len(alerts)

    def _link(self, ticket: Ticket) -> str:
        return f"{self.public_url}/tickets/{ticket.id}"

    async def _alert(
        self, session: AsyncSession, ticket: Ticket, alert: sla.Alert, found: sla.Sla
    ) -> None:
        clock = found.clocks[alert.clock]
        share = "100 %" if alert.level == sla.BREACH else "80 %"
        what = f"{share} of the {NAMES[alert.clock]} target used"
        recipients = [ticket.assignee_id] if ticket.assignee_id else []
        if not recipients and ticket.team_id:
            recipients = await assignment.team_admins(session, ticket.team_id)
        await notices.tell(
            session,
            ticket,
            recipients,
            title=f"SLA {alert.level}: {what}",
            body=f"Ticket #{ticket.number} ({ticket.title}): {what} (due {clock.due_at}).",
            key=f"sla:{ticket.id}:{alert.clock}:{alert.level}:{alert.cycle}",
            link=self._link(ticket),
        )
        who = (
            "notified the assignee"
            if ticket.assignee_id
            else f"notified {len(recipients)} team admin(s)"
            if recipients
            else "nobody to notify (no assignee, no team admin)"
        )
        data = {"clock": alert.clock, "level": alert.level, "cycle": alert.cycle}
        await eventlog.record(session, ticket, "alert", {**data, "rule": f"{what}; {who}"})
        for rule in await self._rules(session, ticket.org_id, alert):
            done = await self._escalate(session, ticket, rule, alert)
            rule_text = f"escalation rule '{rule.name}': {done}"
            await eventlog.record(
                session, ticket, "escalated", {"clock": alert.clock, "rule": rule_text}
            )

    async def _rules(
        self, session: AsyncSession, org_id: UUID, alert: sla.Alert
    ) -> list[EscalationRule]:
        rows = await session.exec(
            select(EscalationRule)
            .where(
                EscalationRule.org_id == org_id,
                EscalationRule.level == alert.level,
                or_(col(EscalationRule.clock).is_(None), EscalationRule.clock == alert.clock),
            )
            .order_by(col(EscalationRule.position))
        )
        return list(rows)

    async def _escalate(
        self, session: AsyncSession, ticket: Ticket, rule: EscalationRule, alert: sla.Alert
    ) -> str:
        """Carry out ``rule``; what it did, for the timeline."""
        action = EscalationAction(rule.action)
        if action is EscalationAction.RAISE_PRIORITY:
            higher = raised(ticket.priority)
            if higher is None:
                return "already urgent"
            before, ticket.priority = ticket.priority, higher
            await eventlog.record(session, ticket, "priority", {"to": higher})
            return f"priority raised from {before} to {higher}"
        team_id = rule.team_id or ticket.team_id
        team = await session.get(Team, team_id) if team_id else None
        if team is None:
            return "no team to act on"
        if action is EscalationAction.REASSIGN:
            chosen = await assignment.assign(
                session, ticket, team, link=self._link(ticket), excluding=ticket.assignee_id
            )
            return f"reassigned to {chosen} in {team.name}" if chosen else "nobody to reassign to"
        admins = await assignment.team_admins(session, team.id)
        await notices.tell(
            session,
            ticket,
            admins,
            title=f"escalated by '{rule.name}'",
            body=f"Ticket #{ticket.number} ({ticket.title}) was escalated to {team.name}.",
            key=f"escalation:{ticket.id}:{rule.id}:{alert.clock}:{alert.level}:{alert.cycle}",
            link=self._link(ticket),
        )
        return f"notified {len(admins)} admin(s) of {team.name}"
