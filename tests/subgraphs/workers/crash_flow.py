"""A workflow for the killed-worker test, registered in the test's process and in the worker
it starts: each step records its run in Redis, and the second waits until the test opens its
gate."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from subgraphs.workers.contract import Workflow, register_workflow


class Steps(TypedDict, total=False):
    done: bool


def steps_key(thread: str) -> str:
    return f"vetrai:test:steps:{thread}"


def gate_key(thread: str) -> str:
    return f"vetrai:test:gate:{thread}"


def _graph(context: dict[str, Any]) -> StateGraph[Steps]:
    async def first(state: Steps, config: RunnableConfig) -> Steps:
        await context["redis"].rpush(steps_key(config["configurable"]["thread_id"]), "first")
        return {}

    async def second(state: Steps, config: RunnableConfig) -> Steps:
        thread = config["configurable"]["thread_id"]
        await context["redis"].rpush(steps_key(thread), "second")
        if not await context["redis"].exists(gate_key(thread)):
            await asyncio.Event().wait()  # until the worker dies
        return {"done": True}

    graph = StateGraph(Steps)
    graph.add_node("first", first)
    graph.add_node("second", second)
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_edge("second", END)
    return graph


CRASH = register_workflow(
    Workflow("test_crash", 1, "Two steps, the second held.", {"type": "object"}, _graph)
)
