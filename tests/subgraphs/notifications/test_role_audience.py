"""A request addressed to a role of an organization reaches the members holding it when it is
handled (as tenancy last announced the roles), each once, and nobody else."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from subgraphs.kernel.db import utcnow
from subgraphs.kernel.errors import Rejected
from subgraphs.notifications.contract import NotificationRequest, Recipient
from subgraphs.notifications.service import NotificationService


def _request(org_id: UUID | None, roles: list[str], *named: Recipient) -> NotificationRequest:
    return NotificationRequest(
        template_key="billing.payment_failed",
        category="billing",
        recipients=list(named),
        idempotency_key=f"roles:{uuid4()}",
        data={"invoice": "R-1", "amount": "1.00 USD", "attempt": 1, "link": ""},
        org_id=org_id,
        roles=roles,
    )


async def test_a_role_reaches_its_holders_once_and_nobody_else(
    notification_service: NotificationService,
) -> None:
    org, ada, bob, cy = uuid4(), uuid4(), uuid4(), uuid4()
    roles = {str(ada): "owner", str(bob): "owner", str(cy): "member"}
    await notification_service.set_members(org, [ada, bob, cy], utcnow(), roles)
    # Ada named as well as holding the role: one notification for her.
    sent = await notification_service.notify(_request(org, ["owner"], Recipient(user_id=ada)))
    assert sorted(str(n.user_id) for n in sent) == sorted([str(ada), str(bob)])

    demoted = {**roles, str(bob): "member"}  # a later announcement: the next request follows it
    await notification_service.set_members(org, [ada, bob, cy], utcnow(), demoted)
    assert [n.user_id for n in await notification_service.notify(_request(org, ["owner"]))] == [ada]


async def test_roles_of_another_organization_or_none_reach_nobody(
    notification_service: NotificationService,
) -> None:
    org, other, ada = uuid4(), uuid4(), uuid4()
    await notification_service.set_members(org, [ada], utcnow(), {str(ada): "owner"})
    assert await notification_service.notify(_request(other, ["owner"])) == []
    assert await notification_service.notify(_request(org, ["admin"])) == []
    with pytest.raises(Rejected):
        await notification_service.notify(_request(None, ["owner"]))


def test_a_job_queued_before_roles_existed_still_reads() -> None:
    job = _request(uuid4(), ["owner"]).as_job()
    del job["roles"]
    assert NotificationRequest.from_job(job).roles == []
