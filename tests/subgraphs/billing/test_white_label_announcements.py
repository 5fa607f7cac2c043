"""Every plan change tells themes and notifications, by durable jobs through the outbox (not
only the routers' pub/sub, which is lost while nobody listens), whether the plan grants
``white_label``: a downgrade from team withdraws it, an upgrade grants it again."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SignedClient
from tests.subgraphs.billing.builders import owner, told_white_label
from tests.subgraphs.billing.test_subscriptions import CHANGE, start


async def test_a_downgrade_and_an_upgrade_reach_themes_and_notifications(
    billing: SignedClient, owner_engine: AsyncEngine
) -> None:
    caller = owner()
    assert caller.org_id is not None
    assert (await start(billing, caller, plan="team"))["errors"] == []
    await told_white_label(owner_engine, caller.org_id, True)
    org = str(caller.org_id)
    down = await billing.run(CHANGE, {"org": org, "plan": "pro"}, caller)
    assert down["changePlan"]["errors"] == []
    await told_white_label(owner_engine, caller.org_id, False)
    up = await billing.run(CHANGE, {"org": org, "plan": "business"}, caller)
    assert up["changePlan"]["errors"] == []
    await told_white_label(owner_engine, caller.org_id, True)
