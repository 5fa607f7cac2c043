"""How many jobs of an organization run at once is its plan's ``concurrent_jobs``, taken when a
job is started: as the router signs it into the caller's limits from billing's entitlements, or,
for a job nobody started for a plan (another domain's, a schedule's), as billing last announced
it to workers. A pro organization runs more at once than a free one, and a plan change holds for
the jobs started after it. Jobs here wait on a queue no worker takes; rounds are run by hand."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta
from uuid import UUID, uuid4

from core.caller import Caller, Limit
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.db import utcnow
from subgraphs.workers.contract import CONCURRENT_JOBS, DEFAULT_CONCURRENT_JOBS, Multitask
from subgraphs.workers.service import JobService
from tests.subgraphs.workers.builders import member_of, request
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


async def test_a_job_whose_caller_carries_no_plan_runs_under_its_organizations(
    idle: JobService,
) -> None:
    org = uuid4()
    caller = Caller(
        user_id=uuid4(), org_id=org, roles=frozenset({"owner"}), scopes=member_of(org).scopes
    )
    jobs = await _started(idle, caller, 3)
    # Billing announced no plan for it: the free plan's.
    assert await _running(idle) == {org: jobs[: _granted("free")]}


async def _limit_of(service: JobService, org: UUID) -> int | None:
    """The limit a job another domain starts for ``org`` is stored with."""
    job = await service.start(request(org, "test.noop"))
    return job.concurrency_limit


async def test_a_job_another_domain_starts_runs_under_the_plan_billing_announced_last(
    idle: JobService,
) -> None:
    org = uuid4()
    assert await _limit_of(idle, org) == _granted("free")
    now = utcnow()
    await idle.set_plan(org, {CONCURRENT_JOBS: _granted("pro")}, now)
    assert await _limit_of(idle, org) == _granted("pro")
    # A replayed, older word changes nothing; a newer one holds for the jobs after it.
    await idle.set_plan(org, {CONCURRENT_JOBS: _granted("free")}, now - timedelta(seconds=1))
    assert await _limit_of(idle, org) == _granted("pro")
    await idle.set_plan(org, {CONCURRENT_JOBS: True}, now + timedelta(seconds=1))
    assert await _limit_of(idle, org) is None
    await idle.set_plan(org, {CONCURRENT_JOBS: None}, now + timedelta(seconds=2))
    assert await _limit_of(idle, org) == DEFAULT_CONCURRENT_JOBS
    await idle.set_plan(org, {CONCURRENT_JOBS: 0}, now + timedelta(seconds=3))
    assert await _limit_of(idle, org) == 1  # at least one, or nothing would ever run
    # The organization's word is its own.
    assert await _limit_of(idle, uuid4()) == _granted("free")


async def test_the_announced_limit_bounds_the_jobs_running_at_once(idle: JobService) -> None:
    org = uuid4()
    await idle.set_plan(org, {CONCURRENT_JOBS: _granted("pro")}, utcnow())
    jobs = [(await idle.start(request(org, "test.noop"))).id for _ in range(_granted("pro") + 1)]
    assert await _running(idle) == {org: jobs[: _granted("pro")]}
