"""What the router grants a caller for the supergraph's authorization directives: signed in,
the scopes held and the ``@policy`` names decided true, all from the signed caller; a
``feature:<key>`` policy holds when the caller's plan grants that feature."""

from __future__ import annotations

from collections.abc import Callable

from core.caller import Caller
from core.scopes import MANAGE_ORGANIZATION, SCOPES
from router.authorization import FEATURE, Grants

POLICIES: dict[str, Callable[[Caller], bool]] = {
    MANAGE_ORGANIZATION: lambda caller: caller.manages(caller.org_id),
}


def grants_of(caller: Caller) -> Grants:
    """A user holds every scope (their role's rules are the policies and the services'); an API
    key holds its own scopes and is not a signed-in user."""
    signed_in = caller.user_id is not None
    return Grants(
        authenticated=signed_in,
        scopes=SCOPES if signed_in else caller.scopes,
        policies=frozenset(name for name, holds in POLICIES.items() if holds(caller))
        | {FEATURE + feature for feature in caller.limits if caller.entitled(feature)},
    )
