"""Workflows the approval tests run: ``test_review`` asks the users its input names (no role
approves), ``test_escalated_review`` escalates once to owners when nobody decides in time,
``test_admin_review`` asks the organization's admins."""

from __future__ import annotations

import re
from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from subgraphs.workers.contract import (
    ApprovalPolicy,
    Approvers,
    OnExpiry,
    Workflow,
    register_workflow,
)

LINK = re.compile(r"(Approve|Reject): \S+(/approvals/[A-Za-z0-9_-]+)")


class Review(TypedDict, total=False):
    title: str
    approvers: list[str]
    decision: str
    comment: str | None


def _review(context: dict[str, Any]) -> StateGraph[Review]:
    def ask(state: Review) -> Review:
        answer = interrupt(
            {"question": f"Publish {state['title']}?", "approvers": state.get("approvers", [])}
        )
        return {"decision": answer["decision"], "comment": answer["comment"]}

    graph = StateGraph(Review)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    return graph


INPUT = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "approvers": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title"],
}
NOBODY = Approvers(roles=frozenset())
REVIEW = register_workflow(
    Workflow(
        name="test_review",
        version=1,
        description="Asks the users it names.",
        input_schema=INPUT,
        graph=_review,
        approval=ApprovalPolicy(approvers=NOBODY),
    )
)
ESCALATED = register_workflow(
    Workflow(
        name="test_escalated_review",
        version=1,
        description="Asks the users it names, then the owners.",
        input_schema=INPUT,
        graph=_review,
        approval=ApprovalPolicy(approvers=NOBODY, on_expiry=OnExpiry.ESCALATE),
    )
)


ADMINS = register_workflow(
    Workflow(
        name="test_admin_review",
        version=1,
        description="Asks the organization's admins.",
        input_schema=INPUT,
        graph=_review,
        approval=ApprovalPolicy(approvers=Approvers(roles=frozenset({"admin"}))),
    )
)


def links(body: str) -> dict[str, str]:
    """The approve and reject paths of an approval email (under the router's /assets/workers)."""
    return {kind.lower(): path for kind, path in LINK.findall(body)}
