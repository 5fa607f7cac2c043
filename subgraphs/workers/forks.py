"""Forks: a new run that starts from a checkpoint of another run of its organization, with its
state edited. The checkpoint (its values, blobs and pending writes) is copied into the new run's
thread, so the old run's history stays as it was, and the edit is applied as an update of the
step that wrote that checkpoint."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.errors import InvalidUpdateError

from subgraphs.workers.kinds import JobFailed

CHECKPOINT_NOT_FOUND = "CHECKPOINT_NOT_FOUND"
INVALID_STATE_UPDATE = "INVALID_STATE_UPDATE"


async def start_from(
    graph: Any,
    saver: AsyncPostgresSaver,
    source_thread: str,
    checkpoint_id: str,
    config: Any,
    update: dict[str, Any] | None,
) -> None:
    """Copy ``source_thread``'s checkpoint into ``config``'s thread, then apply ``update``."""
    source = {"configurable": {"thread_id": source_thread, "checkpoint_ns": ""}}
    source["configurable"]["checkpoint_id"] = checkpoint_id
    found = await saver.aget_tuple(source)  # type: ignore[arg-type]
    if found is None:
        raise JobFailed(CHECKPOINT_NOT_FOUND, "The checkpoint is gone.")
    target = {
        "configurable": {"thread_id": config["configurable"]["thread_id"], "checkpoint_ns": ""}
    }
    metadata: Any = {**found.metadata, "source": "fork"}
    written = await saver.aput(
        target,  # type: ignore[arg-type]
        found.checkpoint,
        metadata,
        found.checkpoint["channel_versions"],
    )
    writes: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for task_id, channel, value in found.pending_writes or []:
        writes[task_id].append((channel, value))
    for task_id, task_writes in writes.items():
        await saver.aput_writes(written, task_writes, task_id)
    if update:
        try:
            await graph.aupdate_state(config, update)
        except (InvalidUpdateError, ValueError, KeyError) as exc:
            raise JobFailed(INVALID_STATE_UPDATE, str(exc)[:500]) from None
