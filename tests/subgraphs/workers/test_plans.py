"""How many jobs of an organization run at once is its plan's ``concurrent_jobs`` (as the
router signs it into the caller's limits from billing's entitlements), taken when a job is
started: a pro organization runs more at once than a free one, and a plan change holds for the
jobs started after it. Jobs here wait on a queue no worker takes; rounds are run by hand."""

from __future__ import annotations

import secrets
from dataclasses import replace
from uuid import UUID, uuid4

from core.caller import Caller, Limit
from subgraphs.billing.plans import catalogue
from subgraphs.workers.contract import DEFAULT_CONCURRENT_JOBS, Multitask
from subgraphs.workers.service import JobService
from tests.subgraphs.workers.builders import member_of
from tests.subgraphs.workers.reviews import REVIEW


def _on(plan: str, org: UUID) -> Caller:
    """An owner of ``org`` whose context carries ``plan``'s entitlements, as the router's."""
    found = catalogue().get(plan)
    assert found is not None
    limits: dict[str, Limit] = {
        f.key: f.limit if f.enabled and f.limit is not None else f.enabled for f in found.features
    }
    return replace(member_of(org), plan=plan, limits=limits)


def _granted(plan: str) -> int:
    found = catalogue().get(plan)
    assert found is not None
    [limit] = [f.limit for f in found.features if f.key == "concurrent_jobs"]
    assert limit is not None
    return limit


async def _started(service: JobService, caller: Caller, count: int) -> list[UUID]:
    assert caller.org_id is not None
    ids = []
    for _ in range(count):
        job = await service.start_workflow(
            caller,
            caller.org_id,
            REVIEW.name,
            {"title": "a post"},
            idempotency_key=secrets.token_hex(6),
            concurrency_key=None,
            multitask=Multitask.ENQUEUE,
        )
        ids.append(job.id)
    return ids


async def _running(service: JobService) -> dict[UUID, list[UUID]]:
    """Each organization's jobs handed out by dispatch rounds until none starts more."""
    running: dict[UUID, list[UUID]] = {}
    while handed := await service.queue.round():
        for job in handed:
            running.setdefault(job.org_id, []).append(job.job_id)
    return running


async def test_a_pro_organization_runs_more_jobs_at_once_than_a_free_one(
    idle: JobService,
) -> None:
    free, pro = uuid4(), uuid4()
    assert _granted("pro") > _granted("free")
    free_jobs = await _started(idle, _on("free", free), _granted("pro") + 1)
    pro_jobs = await _started(idle, _on("pro", pro), _granted("pro") + 1)
    running = await _running(idle)
    assert running[free] == free_jobs[: _granted("free")]
    assert running[pro] == pro_jobs[: _granted("pro")]
    await idle.queue.release(pro, pro_jobs[0], None)
    assert await _running(idle) == {pro: [pro_jobs[_granted("pro")]]}


async def test_a_plan_change_holds_for_the_jobs_started_after_it(idle: JobService) -> None:
    org = uuid4()
    before = await _started(idle, _on("free", org), 3)
    assert await _running(idle) == {org: before[:1]}
    after = await _started(idle, _on("pro", org), _granted("pro"))
    # Those started on pro run beside the first one up to pro's limit; those started on free
    # still wait until their organization runs nothing else.
    room = _granted("pro") - 1
    assert await _running(idle) == {org: after[:room]}
    stored = await idle.job(Caller(org_id=org), after[0])
    assert stored is not None
    assert stored.concurrency_limit == _granted("pro")


async def test_a_job_nobody_started_for_a_plan_runs_under_the_default(idle: JobService) -> None:
    org = uuid4()
    caller = Caller(
        user_id=uuid4(), org_id=org, roles=frozenset({"owner"}), scopes=member_of(org).scopes
    )
    jobs = await _started(idle, caller, 3)
    assert await _running(idle) == {org: jobs[:DEFAULT_CONCURRENT_JOBS]}
