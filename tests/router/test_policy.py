"""The grants the router derives from a signed caller: users hold every scope, keys their own,
and ``org:manage`` only for owners and admins of the organization they act in."""

from __future__ import annotations

from uuid import uuid4

import pytest

from core.caller import ANONYMOUS, Caller
from core.scopes import MANAGE_ORGANIZATION, SCOPES
from router.authorization import Grants
from router.policy import grants_of

ORG = uuid4()


@pytest.mark.parametrize(("role", "manages"), [("owner", True), ("admin", True), ("member", False)])
def test_a_user_holds_every_scope_and_manages_only_as_owner_or_admin(
    role: str, manages: bool
) -> None:
    user = Caller(user_id=uuid4(), org_id=ORG, roles=frozenset({role}))

    grants = grants_of(user)

    assert grants == Grants(True, SCOPES, frozenset({MANAGE_ORGANIZATION} if manages else ()))
    assert user.manages(ORG) is manages
    assert not user.manages(uuid4())


def test_an_api_key_holds_its_scopes_is_not_signed_in_and_never_manages() -> None:
    key = Caller(
        key_id=uuid4(), org_id=ORG, roles=frozenset({"owner"}), scopes=frozenset({"a:read"})
    )

    assert grants_of(key) == Grants(False, frozenset({"a:read"}), frozenset())
    assert not key.manages(ORG)


def test_a_user_in_no_organization_and_the_anonymous_caller_manage_nothing() -> None:
    alone = Caller(user_id=uuid4(), roles=frozenset({"owner"}))

    assert grants_of(alone).policies == frozenset()
    assert not alone.manages(None)
    assert grants_of(ANONYMOUS) == Grants()


def test_the_plans_features_are_policies_and_only_those_it_grants() -> None:
    limits = {"sla_policies": True, "seats": 5, "themes": False, "exports": 0}
    key = Caller(key_id=uuid4(), org_id=ORG, scopes=frozenset({"a:read"}), limits=limits)

    assert grants_of(key).policies == {"feature:sla_policies", "feature:seats"}
