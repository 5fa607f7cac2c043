"""Who counts as signed in, and which scopes each organization role holds."""

from __future__ import annotations

from uuid import uuid4

from core.caller import ANONYMOUS, Caller
from core.scopes import ROLE_SCOPES, SCOPES, scopes_of


def test_a_user_or_a_key_is_authenticated_and_an_address_alone_is_not() -> None:
    assert Caller(user_id=uuid4()).is_authenticated
    assert Caller(key_id=uuid4(), org_id=uuid4()).is_authenticated
    assert not Caller(client_ip="203.0.113.7").is_authenticated
    assert not ANONYMOUS.is_authenticated


def test_only_a_signed_in_user_without_a_key_manages() -> None:
    org, owner = uuid4(), frozenset({"owner"})
    assert Caller(user_id=uuid4(), org_id=org, roles=owner).manages(org)
    assert not Caller(user_id=uuid4(), key_id=uuid4(), org_id=org, roles=owner).manages(org)
    assert not Caller(org_id=org, roles=owner).manages(org)


def test_a_caller_is_a_value_usable_as_a_key() -> None:
    org = uuid4()
    caller = Caller(org_id=org, roles=frozenset({"member"}))
    assert {caller: 1}[Caller(org_id=org, roles=frozenset({"member"}))] == 1


def test_owners_hold_every_scope_and_admins_all_but_changing_billing() -> None:
    assert scopes_of(["owner"]) == SCOPES
    assert scopes_of(["admin"]) == SCOPES - {"billing:write"}
    assert "billing:read" in scopes_of(["admin"])


def test_roles_hold_their_scopes_together_and_unknown_roles_none() -> None:
    assert scopes_of([]) == frozenset()
    assert scopes_of(["auditor"]) == frozenset()
    assert scopes_of(["member", "auditor"]) == ROLE_SCOPES["member"]
    assert scopes_of(["member", "admin"]) == ROLE_SCOPES["admin"]
    assert "members:write" not in scopes_of(["member"])


def test_a_plan_limit_is_its_number_none_when_unlimited_and_the_default_when_unnamed() -> None:
    caller = Caller(limits={"seats": 5, "sso": True, "audit": False})
    assert caller.limit("seats", 3) == 5
    assert caller.limit("sso", 3) is None
    assert caller.limit("audit", 3) == 0
    assert caller.limit("unnamed", 3) == 3
    assert caller.limit("unnamed") is None


def test_a_feature_is_entitled_when_on_or_limited_above_zero() -> None:
    caller = Caller(limits={"one": 1, "sso": True, "audit": False, "none": 0})
    assert caller.entitled("one")
    assert caller.entitled("sso")
    assert not caller.entitled("audit")
    assert not caller.entitled("none")
    assert not caller.entitled("unnamed")


def test_an_address_is_unverified_unless_auth_says_it_is() -> None:
    assert not Caller(user_id=uuid4(), email="ann@example.com").email_verified
