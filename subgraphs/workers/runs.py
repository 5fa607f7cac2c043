"""The ``workflow`` job kind: a registered LangGraph graph run with the Postgres checkpointer on
a connection of the run's own organization, so a retried or resumed attempt goes on from its
last checkpoint; ``interrupt()`` makes the job wait for a decision, and the interrupts that
parallel branches raise at once each wait for their own. A run is resumed with every answer
by interrupt id (``Command(resume={id: answer, ...})``)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.types import Command
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from sqlalchemy.engine import make_url

from core.caller import Caller
from subgraphs.kernel.errors import ErrorCode, Problem, Rejected
from subgraphs.workers import approvals, forks
from subgraphs.workers.contract import (
    WORKFLOW_KIND,
    WORKFLOWS,
    JobRequest,
    WorkersErrorCode,
    Workflow,
)
from subgraphs.workers.kinds import JobFailed, Kind, RetryPolicy, Run, register

# the schema of the checkpoint tables, and the login of the domain that owns them
SCHEMA = "workers"
WRITE_SCOPE = "workflows:write"


def require_writer(caller: Caller) -> None:
    if WRITE_SCOPE not in caller.scopes:
        raise Rejected.one(
            ErrorCode.FORBIDDEN, f"Starting, cancelling and scheduling runs needs {WRITE_SCOPE}."
        )


def check_input(workflow: Workflow, given: Any) -> None:
    """Every JSON Schema error of ``given``, each with its field path under ``input``."""
    errors = sorted(
        Draft202012Validator(workflow.input_schema).iter_errors(given), key=lambda e: e.path
    )
    if errors:
        raise Rejected(
            *(
                Problem(
                    WorkersErrorCode.INVALID_WORKFLOW_INPUT,
                    error.message,
                    ".".join(["input", *(str(p) for p in error.absolute_path)]),
                )
                for error in errors
            )
        )


def workflow_request(
    org_id: UUID,
    workflow: Workflow,
    given: Any,
    *,
    key: str,
    created_by: UUID | None,
    **extra: Any,
) -> JobRequest:
    """The job of a run of ``workflow`` with input ``given``, once per ``key``."""
    return JobRequest(
        kind=WORKFLOW_KIND,
        org_id=org_id,
        idempotency_key=key,
        payload={"workflow": workflow.name, "version": workflow.version, "input": given},
        created_by=created_by,
        **extra,
    )


def thread_id(org_id: UUID, job_id: UUID) -> str:
    """The checkpoint thread of a run; row security compares its prefix with the org."""
    return f"{org_id}:{job_id}"


async def connect(url: str, org_id: UUID) -> AsyncConnection[DictRow]:
    """A psycopg connection as workers' role with the run's organization set for RLS."""
    options = f"-c app.org_id={org_id} -c search_path={SCHEMA}"
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await AsyncConnection.connect(
        conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row, options=options
    )


async def _run(run: Run) -> Any:
    workflow = WORKFLOWS.get(run.payload["workflow"])
    if workflow is None:
        raise JobFailed("WORKFLOW_NOT_FOUND", "The workflow is no longer registered.")
    url = run.context["jobs"].settings.core.login_url(SCHEMA)
    thread = thread_id(run.org_id, run.job_id)
    config: Any = {"configurable": {"thread_id": thread, "org_id": str(run.org_id)}}
    async with await connect(url, run.org_id) as connection:
        saver = AsyncPostgresSaver(connection)
        graph = workflow.graph(run.context).compile(checkpointer=saver)
        state = await graph.aget_state(config)
        fork = run.payload.get("fork")
        if fork is not None and state.created_at is None:  # the fork's first attempt
            source = thread_id(run.org_id, UUID(fork["job"]))
            await forks.start_from(
                graph, saver, source, fork["checkpoint"], config, fork.get("update")
            )
            state = await graph.aget_state(config)
        pending = [i for task in state.tasks for i in task.interrupts]
        resume = run.payload.get("resume")
        given: Any = run.payload["input"]
        if pending and resume is not None:
            given = Command(resume=resume)
        elif state.next:
            given = None  # go on from the last checkpoint
        asked = await _stream(run, graph, given, config)
        # Only once the stream has ended are the interrupts' checkpoint and writes stored.
        if asked:
            await run.wait(asked)
            return None
        return (await graph.aget_state(config)).values


async def _stream(run: Run, graph: Any, given: Any, config: Any) -> list[dict[str, Any]]:
    """Run ``graph`` from ``given``, reporting its progress and finished steps; every
    interrupt it raised (parallel branches raise theirs in the same step), in order."""
    asked: dict[str, dict[str, Any]] = {}
    # "sync": a step's checkpoint is written before the next step starts (LangGraph's
    # default writes it while the next one runs, which a killed worker may never finish).
    stream = graph.astream(given, config, stream_mode=["updates", "custom"], durability="sync")
    async for mode, chunk in stream:
        if mode == "custom" and isinstance(chunk, dict) and "progress" in chunk:
            await run.report(float(chunk["progress"]), chunk.get("message"))
        elif mode == "updates" and "__interrupt__" in chunk:
            for raised in chunk["__interrupt__"]:
                asked.setdefault(raised.id, {"id": raised.id, "payload": raised.value})
        elif mode == "updates" and run.step is not None and not _replayed(chunk):
            for node in chunk:
                await run.step(str(node))
    return list(asked.values())


def _replayed(chunk: dict[str, Any]) -> bool:
    """An update LangGraph repeats from the stored writes of a step that finished in an
    earlier attempt (a branch that ended while another failed or waited)."""
    return bool(chunk.get("__metadata__", {}).get("cached"))


FINAL = frozenset(
    {
        "WORKFLOW_NOT_FOUND",
        forks.CHECKPOINT_NOT_FOUND,
        forks.INVALID_STATE_UPDATE,
        approvals.APPROVER_NOT_MEMBER,
    }
)


def _heartbeat(payload: dict[str, Any]) -> float | None:
    workflow = WORKFLOWS.get(payload["workflow"])
    return workflow.heartbeat_seconds if workflow else None


WORKFLOW = register(
    Kind(
        WORKFLOW_KIND,
        _run,
        retry=RetryPolicy(maximum_attempts=3, non_retryable_codes=FINAL),
        heartbeat_for=_heartbeat,
    )
)
