"""What a caller may do: the platform's scopes and the scopes each organization role holds.

The schema declares what each field needs (``@requiresScopes``, ``@policy``); the router
enforces it, and the subgraphs check roles again; an API key holds a subset of its creator's
scopes.
"""

from __future__ import annotations

from collections.abc import Iterable

SCOPE_DESCRIPTIONS: dict[str, str] = {
    "organization:read": "Read the organization: name, slug, plan and settings.",
    "organization:write": "Change the organization.",
    "members:read": "List the organization's members and their roles.",
    "members:write": "Invite, remove and change members.",
    "billing:read": "Read the billing account and invoices.",
    "billing:write": "Change the plan and the billing account.",
    "tickets:read": "Read support tickets.",
    "tickets:write": (
        "Update, assign and merge support tickets (opening one and commenting need a person)."
    ),
    "themes:read": "Read the organization's theme.",
    "themes:write": "Change the organization's theme.",
    "notifications:read": "Read notifications and templates.",
    "notifications:write": "Send notifications to the organization's members.",
    "workflows:read": "Read jobs and workflows.",
    "workflows:write": "Start and cancel jobs.",
}
SCOPES: frozenset[str] = frozenset(SCOPE_DESCRIPTIONS)

MANAGE_ORGANIZATION = "org:manage"
"""The ``@policy`` of what only the owners and admins of the acting organization may do."""

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
