"""Checkpoint retention: a finished run keeps only its latest checkpoint (per namespace) and
the blobs and writes that checkpoint needs; LangGraph's Postgres saver has no pruning of its
own. A rolled-back run keeps none. Run on the run's own connection, so row security keeps it to
its organization."""

from __future__ import annotations

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow

# Older checkpoints of the thread, then what no kept checkpoint refers to.
PRUNE = (
    """delete from checkpoints c where thread_id = %(t)s and checkpoint_id <> (
      select max(k.checkpoint_id) from checkpoints k
      where k.thread_id = c.thread_id and k.checkpoint_ns = c.checkpoint_ns)""",
    """delete from checkpoint_writes w where thread_id = %(t)s and not exists (
      select 1 from checkpoints c where c.thread_id = w.thread_id
      and c.checkpoint_ns = w.checkpoint_ns and c.checkpoint_id = w.checkpoint_id)""",
    """delete from checkpoint_blobs b where thread_id = %(t)s and not exists (
      select 1 from checkpoints c, jsonb_each_text(c.checkpoint -> 'channel_versions') v
      where c.thread_id = b.thread_id and c.checkpoint_ns = b.checkpoint_ns
      and v.key = b.channel and v.value = b.version)""",
)


async def keep_latest(connection: AsyncConnection[DictRow], thread: str) -> int:
    """Prune ``thread`` to its latest checkpoint; how many rows went."""
    removed = 0
    async with connection.transaction():
        for statement in PRUNE:
            removed += (await connection.execute(statement, {"t": thread})).rowcount
    return removed


async def forget(connection: AsyncConnection[DictRow], threads: list[str]) -> None:
    """Delete every checkpoint, blob and write of ``threads``."""
    saver = AsyncPostgresSaver(connection)
    for thread in threads:
        await saver.adelete_thread(thread)
