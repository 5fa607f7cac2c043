"""The ``workflow`` job kind: a registered LangGraph graph run with the Postgres checkpointer on
a connection of the run's own organization, so a retried or resumed attempt goes on from its
last checkpoint; ``interrupt()`` makes the job wait for a decision."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.types import Command
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from sqlalchemy.engine import make_url

from subgraphs.workers.contract import WORKFLOW_KIND, WORKFLOWS
from subgraphs.workers.kinds import JobFailed, Kind, RetryPolicy, Run, register

# the schema of the checkpoint tables, and the login of the domain that owns them
SCHEMA = "workers"


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
        graph = workflow.graph(run.context).compile(checkpointer=AsyncPostgresSaver(connection))
        state = await graph.aget_state(config)
        pending = [i for task in state.tasks for i in task.interrupts]
        resume = run.payload.get("resume")
        given: Any = run.payload["input"]
        if pending and resume is not None:
            given = Command(resume=resume)
        elif state.next:
            given = None  # go on from the last checkpoint
        asked: dict[str, Any] | None = None
        # "sync": a step's checkpoint is written before the next step starts, so a worker
        # killed in a step loses none that finished ("async", the default, may)
        stream = graph.astream(given, config, stream_mode=["updates", "custom"], durability="sync")
        async for mode, chunk in stream:
            if mode == "custom" and isinstance(chunk, dict) and "progress" in chunk:
                await run.report(float(chunk["progress"]), chunk.get("message"))
            elif mode == "updates" and "__interrupt__" in chunk and asked is None:
                [first, *_] = chunk["__interrupt__"]
                asked = {"id": first.id, "payload": first.value}
        # Only once the stream has ended is the interrupt's checkpoint written.
        if asked is not None:
            await run.wait(asked)
            return None
        return (await graph.aget_state(config)).values


WORKFLOW = register(Kind(WORKFLOW_KIND, _run, retry=RetryPolicy(maximum_attempts=3)))
