"""What a caller may do: the platform's scopes and the scopes each organization role holds.

The router grants scopes from these tables and every subgraph checks them; an API key holds a
subset of its creator's scopes.
"""

from __future__ import annotations

from collections.abc import Iterable

SCOPES: frozenset[str] = frozenset(
    {
        "organization:read",
        "organization:write",
        "members:read",
        "members:write",
        "billing:read",
        "billing:write",
        "tickets:read",
        "tickets:write",
        "themes:read",
        "themes:write",
        "notifications:read",
        "notifications:write",
        "workflows:read",
        "workflows:write",
    }
)

_MEMBER = frozenset(
    {
        "organization:read",
        "members:read",
        "billing:read",
        "tickets:read",
        "tickets:write",
        "themes:read",
        "notifications:read",
        "notifications:write",
        "workflows:read",
    }
)

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "owner": SCOPES,
    "admin": SCOPES - {"billing:write"},
    "member": _MEMBER,
}

# Held only by the router when it calls a subgraph's internal routes; never granted to a key.
INTERNAL_VERIFY = "internal:verify"


def scopes_of(roles: Iterable[str]) -> frozenset[str]:
    """Every scope the given organization roles hold together."""
    return frozenset().union(*(ROLE_SCOPES.get(role, frozenset()) for role in roles))
