"""Who is calling: the identity the router establishes and every subgraph receives, passed
into every service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

MANAGER_ROLES = frozenset({"owner", "admin"})

Limit = int | bool
"""What a plan grants of one feature: True on (or unlimited), False off, a number its limit."""


@dataclass(frozen=True)
class Caller:
    user_id: UUID | None = None
    org_id: UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: UUID | None = None
    session_id: UUID | None = None
    client_ip: str | None = None
    plan: str | None = None
    limits: Mapping[str, Limit] = field(default_factory=dict, hash=False)
    # the signed-in user's address as auth issued it (lower-cased), and whether it is verified
    email: str | None = None
    email_verified: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.key_id is not None

    def manages(self, org_id: UUID | None) -> bool:
        """Whether a signed-in user acts for ``org_id`` as one of its owners or admins (an API
        key never manages: it cannot mint keys or change roles)."""
        return (
            org_id is not None
            and self.org_id == org_id
            and self.user_id is not None
            and self.key_id is None
            and bool(self.roles & MANAGER_ROLES)
        )

    def limit(self, feature: str, default: int | None = None) -> int | None:
        """The plan's limit of ``feature``: ``default`` when the plan does not name it, None
        when it is unlimited, 0 when it is off."""
        return limit_of(self.limits.get(feature), default)

    def entitled(self, feature: str) -> bool:
        """Whether the plan grants ``feature`` at all (on, or a limit above zero)."""
        return self.limit(feature, 0) != 0


def limit_of(granted: Limit | None, default: int | None = None) -> int | None:
    """The limit a plan's grant of a feature sets: ``default`` when the plan does not name the
    feature, None when it is unlimited, 0 when it is off."""
    if granted is None:
        return default
    if granted is True:
        return None
    return int(granted)


ANONYMOUS = Caller()
