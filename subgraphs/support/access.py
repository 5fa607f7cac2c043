"""Who manages an organization's support: its owners and admins (policies, teams, escalation
rules, reports); and who may be the person behind a ticket, a comment or an upload."""

from __future__ import annotations

from uuid import UUID

from core.caller import Caller
from subgraphs.kernel.errors import ErrorCode, require, signed_in

MANAGERS = frozenset({"owner", "admin"})


def managed(caller: Caller, org_id: UUID) -> None:
    require(
        caller.org_id == org_id and bool(caller.roles & MANAGERS),
        ErrorCode.FORBIDDEN,
        "Only owners and admins can do this.",
    )


def person(caller: Caller) -> UUID:
    """The user a new ticket, comment or upload is by. Requesters and authors are users that
    auth resolves (and only an upload's uploader may attach it), and an API key is no user: its
    signed caller names none, and a requester it named could not be checked against the
    organization's members here."""
    require(
        caller.key_id is None,
        ErrorCode.FORBIDDEN,
        "An API key cannot open tickets, comment or upload files; sign in as a user.",
    )
    return signed_in(caller)
