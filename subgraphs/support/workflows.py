"""The ``ticket_triage`` workflow: a ticket embedded, the priority, tags and team its nearest
settled tickets suggest, a summary by an LLM when one is configured (``llm``), an agent's
approval (``interrupt()``), then the suggestion applied through support's own service."""

from __future__ import annotations

from typing import Any, TypedDict
from uuid import UUID

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from core.caller import Caller
from subgraphs.support.access import MANAGERS
from subgraphs.support.service import SupportService
from subgraphs.support.triage import Suggestion
from subgraphs.workers.contract import Workflow, register_workflow


class Triage(TypedDict, total=False):
    ticket_id: str
    suggestion: dict[str, Any]
    summary: str | None
    decision: str
    decided_by: str | None
    applied: bool


def _org(config: RunnableConfig) -> UUID:
    return UUID(config["configurable"]["org_id"])


def build(context: dict[str, Any]) -> StateGraph[Triage]:
    def service() -> SupportService:
        found: SupportService = context["support"]
        return found

    async def suggest(state: Triage, config: RunnableConfig) -> Triage:
        found = await service().suggest_triage(_org(config), UUID(state["ticket_id"]))
        get_stream_writer()({"progress": 0.5, "message": f"{len(found.neighbours)} precedents"})
        return {
            "suggestion": {
                "priority": found.priority,
                "tags": found.tags,
                "team_id": str(found.team_id) if found.team_id else None,
                "precedents": [str(i) for i in found.neighbours],
            }
        }

    async def summarize(state: Triage, config: RunnableConfig) -> Triage:
        return {
            "summary": await service().summarize_for_triage(_org(config), UUID(state["ticket_id"]))
        }

    def approve(state: Triage) -> Triage:
        asked: dict[str, Any] = {"ticket_id": state["ticket_id"], "suggestion": state["suggestion"]}
        if state.get("summary"):
            asked["summary"] = state["summary"]
        answer = interrupt(asked)
        return {"decision": answer["decision"], "decided_by": answer.get("by"), "applied": False}

    async def apply(state: Triage, config: RunnableConfig) -> Triage:
        if state["decision"] != "approve" or not state.get("decided_by"):
            return {}
        given = state["suggestion"]
        # the approver is one of the organization's owners or admins (the approval policy's
        # default), checked by workers when they decided
        approver = UUID(str(state["decided_by"]))
        agent = Caller(user_id=approver, org_id=_org(config), roles=MANAGERS)
        suggestion = Suggestion(
            priority=given["priority"],
            tags=given["tags"],
            team_id=UUID(given["team_id"]) if given["team_id"] else None,
            neighbours=[UUID(i) for i in given["precedents"]],
        )
        await service().apply_triage(agent, UUID(state["ticket_id"]), suggestion)
        return {"applied": True}

    graph = StateGraph(Triage)
    graph.add_node("suggest", suggest)
    graph.add_node("llm", summarize)
    graph.add_node("approve", approve)
    graph.add_node("apply", apply)
    graph.add_edge(START, "suggest")
    graph.add_edge("suggest", "llm")
    graph.add_edge("llm", "approve")
    graph.add_edge("approve", "apply")
    graph.add_edge("apply", END)
    return graph


TICKET_TRIAGE = register_workflow(
    Workflow(
        name="ticket_triage",
        version=2,
        description="Priority, tags and team from the most similar settled tickets (and a"
        " summary when an LLM is configured), applied once an agent approves.",
        input_schema={
            "type": "object",
            "properties": {"ticket_id": {"type": "string", "format": "uuid"}},
            "required": ["ticket_id"],
            "additionalProperties": False,
        },
        graph=build,
    )
)
