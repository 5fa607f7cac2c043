"""Who is calling: the identity the router establishes and every subgraph receives, passed
into every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True)
class Caller:
    user_id: UUID | None = None
    org_id: UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: UUID | None = None
    session_id: UUID | None = None
    client_ip: str | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None or self.key_id is not None


ANONYMOUS = Caller()
