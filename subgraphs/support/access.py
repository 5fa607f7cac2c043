"""Who manages an organization's support: its owners and admins (policies, teams, escalation
rules, reports)."""

from __future__ import annotations

from uuid import UUID

from core.caller import Caller
from subgraphs.kernel.errors import ErrorCode, require

MANAGERS = frozenset({"owner", "admin"})


def managed(caller: Caller, org_id: UUID) -> None:
    require(
        caller.org_id == org_id and bool(caller.roles & MANAGERS),
        ErrorCode.FORBIDDEN,
        "Only owners and admins can do this.",
    )
