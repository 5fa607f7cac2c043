"""Workflows the approval tests run: ``test_review`` asks the users its input names (no role
approves), ``test_escalated_review`` escalates once to owners when nobody decides in time,
``test_admin_review`` asks the organization's admins, ``test_parallel_review`` asks legal and
finance at once in parallel branches; and approvers whose email notifications know."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any, TypedDict
from uuid import UUID, uuid4

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt

from core.caller import Caller
from core.scopes import scopes_of
from subgraphs.notifications.contract import NotificationRequest, Recipient
from subgraphs.notifications.service import NotificationService
from subgraphs.notifications.templates import MESSAGE
from subgraphs.workers.contract import (
    ApprovalPolicy,
    Approvers,
    OnExpiry,
    Workflow,
    register_workflow,
)
from tests.conftest import unique_email

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


BRANCHES = ("legal", "finance")


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {**old, **new}


class Parallel(TypedDict, total=False):
    title: str
    # The approvers of each branch, and whether legal asks a second question once answered.
    legal: list[str]
    finance: list[str]
    again: bool
    answers: Annotated[dict[str, Any], _merged]
    published: bool


def _parallel(context: dict[str, Any]) -> StateGraph[Parallel]:
    def branch(name: str) -> Any:
        def ask(state: Parallel) -> Parallel:
            approvers = state.get(name, [])
            asked = {"question": f"{name}: publish {state['title']}?", "approvers": approvers}
            answers = {name: interrupt(asked)}
            if name == "legal" and state.get("again"):
                again = {"question": f"legal: really publish {state['title']}?"}
                answers["legal again"] = interrupt({**again, "approvers": approvers})
            return {"answers": answers}

        return ask

    def publish(state: Parallel) -> Parallel:
        return {"published": all(a["decision"] == "approve" for a in state["answers"].values())}

    graph = StateGraph(Parallel)
    for name in BRANCHES:
        graph.add_node(name, branch(name))
        graph.add_edge(START, name)
    graph.add_node("publish", publish)
    graph.add_edge(list(BRANCHES), "publish")  # once both branches are decided
    graph.add_edge("publish", END)
    return graph


PARALLEL = register_workflow(
    Workflow(
        name="test_parallel_review",
        version=1,
        description="Asks legal and finance at once, then publishes if both approve.",
        input_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "legal": {"type": "array", "items": {"type": "string"}},
                "finance": {"type": "array", "items": {"type": "string"}},
                "again": {"type": "boolean"},
            },
            "required": ["title"],
        },
        graph=_parallel,
        approval=ApprovalPolicy(approvers=NOBODY),
    )
)


async def known_approver(notifications: NotificationService, org: UUID) -> tuple[UUID, str]:
    """A user whose email notifications know (as after their sign-up)."""
    user, email = uuid4(), unique_email("approver")
    await notifications.notify(
        NotificationRequest(
            template_key=MESSAGE,
            category="announcement",
            recipients=[Recipient(user_id=user, email=email)],
            idempotency_key=secrets.token_hex(6),
            data={"title": "Welcome", "body": "Hello"},
            channels=["in_app"],
            org_id=org,
        )
    )
    return user, email


def links(body: str) -> dict[str, str]:
    """The approve and reject paths of an approval email (under the router's /assets/workers)."""
    return {kind.lower(): path for kind, path in LINK.findall(body)}


def member(org: UUID, user: UUID | None = None) -> Caller:
    """A plain member of ``org`` (a new user unless ``user``)."""
    return Caller(
        user_id=user or uuid4(),
        org_id=org,
        roles=frozenset({"member"}),
        scopes=scopes_of(["member"]),
    )
