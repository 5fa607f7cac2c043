"""Another tenant's data is never visible: through the services, and in the database itself
(row-level security as the application role, whatever the service layer does)."""

from __future__ import annotations

from uuid import uuid4

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.caller import Caller
from subgraphs.kernel.db import Database
from subgraphs.kernel.migrations import role_of
from tests.conftest import SignedClient, unique_email
from tests.subgraphs.tenancy.builders import READ, create_org, join, new_user
from vetrai.settings import PlatformSettings

TENANT_TABLES = ("organizations", "memberships", "invitations")


async def _two_tenants(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> tuple[Caller, str, Caller, str]:
    ada, eve = await new_user(auth), await new_user(auth)
    ada_org = (await create_org(tenancy, ada))["organization"]["id"]
    eve_org = (await create_org(tenancy, eve))["organization"]["id"]
    await join(tenancy, owner_engine, ada, ada_org, await new_user(auth))
    return ada, ada_org, eve, eve_org


async def test_services_never_show_another_tenant(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine
) -> None:
    ada, ada_org, eve, _eve_org = await _two_tenants(auth, tenancy, owner_engine)
    assert (await tenancy.run(READ, {"id": ada_org}, eve))["organization"] is None
    mine = await tenancy.run(
        "query($u: [_Any!]!) { _entities(representations: $u) {"
        " ... on User { organizations { id } } ... on Organization { id members { role } } } }",
        {
            "u": [
                {"__typename": "User", "id": str(ada.user_id)},
                {"__typename": "Organization", "id": ada_org},
            ]
        },
        eve,
    )
    assert mine["_entities"] == [{"organizations": []}, None]
    as_key = Caller(key_id=uuid4(), org_id=eve.user_id)  # an org id that is not Ada's
    assert (await tenancy.run(READ, {"id": ada_org}, as_key))["organization"] is None


async def test_rls_hides_other_tenants_rows_from_the_application_role(
    auth: SignedClient, tenancy: SignedClient, owner_engine: AsyncEngine, settings: PlatformSettings
) -> None:
    ada, ada_org, eve, eve_org = await _two_tenants(auth, tenancy, owner_engine)
    await tenancy.run(
        "mutation($o: ID!, $e: String!) { inviteMember(input: {organizationId: $o, email: $e})"
        " { errors { code } } }",
        {"o": ada_org, "e": unique_email()},
        ada,
    )
    url = settings.core.login_url("tenancy")
    db = Database(url)
    try:
        async with db.transaction(Caller(org_id=eve.user_id, user_id=eve.user_id)) as session:
            await session.execute(text(f"select set_config('app.org_id', '{eve_org}', true)"))
            assert await session.scalar(text("select current_user")) == role_of("tenancy")
            for table in TENANT_TABLES:
                column = "id" if table == "organizations" else "org_id"
                rows = await session.scalar(
                    text(f"select count(*) from tenancy.{table} where {column} = :org"),  # noqa: S608
                    {"org": ada_org},
                )
                assert rows == 0, table
            own = await session.scalar(
                text("select count(*) from tenancy.organizations where id = :org"), {"org": eve_org}
            )
            assert own == 1
        async with db.transaction(Caller()) as session:
            for table in TENANT_TABLES:
                visible = await session.scalar(text(f"select count(*) from tenancy.{table}"))  # noqa: S608
                assert visible == 0, table
    finally:
        await db.close()
    async with owner_engine.connect() as connection:
        total = await connection.scalar(
            text("select count(*) from tenancy.memberships where org_id = :org"), {"org": ada_org}
        )
    assert total == 2


async def test_application_role_cannot_turn_security_off(settings: PlatformSettings) -> None:
    url = settings.core.login_url("tenancy")
    db = Database(url)
    try:
        async with db.transaction(Caller()) as session:
            owner = await session.scalar(
                text(
                    "select tableowner from pg_tables where schemaname = 'tenancy'"
                    " and tablename = 'organizations'"
                )
            )
            assert owner != role_of("tenancy")
            forced = await session.scalar(
                text(
                    "select bool_and(relforcerowsecurity and relrowsecurity) from pg_class"
                    " where relnamespace = 'tenancy'::regnamespace and relkind = 'r'"
                    " and relname <> 'alembic_version'"
                )
            )
            assert forced is True
            bypass = await session.scalar(
                text("select rolbypassrls or rolsuper from pg_roles where rolname = current_user")
            )
            assert bypass is False
    finally:
        await db.close()
