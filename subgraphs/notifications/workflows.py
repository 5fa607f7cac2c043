"""The ``notification_digest`` workflow: each member's unread in-app notifications since a
time, sent as one email per user through notifications' own service."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from core.caller import Caller
from subgraphs.notifications.contract import NotificationRequest, Recipient
from subgraphs.notifications.service import NotificationService
from subgraphs.notifications.templates import MESSAGE
from subgraphs.workers.contract import Workflow, register_workflow

MAX_LISTED = 100


class Digest(TypedDict, total=False):
    since: str
    unread: dict[str, list[str]]  # user id -> titles
    sent: int


def build(context: dict[str, Any]) -> StateGraph[Digest]:
    def service() -> NotificationService:
        found: NotificationService = context["notifications"]
        return found

    async def collect(state: Digest, config: RunnableConfig) -> Digest:
        org_id = UUID(config["configurable"]["org_id"])
        since = datetime.fromisoformat(state["since"])
        unread: dict[str, list[str]] = {}
        for user_id in await service().members(org_id):
            reader = Caller(user_id=user_id, org_id=org_id)
            history = await service().history(reader, user_id, MAX_LISTED, None, True)
            titles = [n.title for n in history.page.items if n.created_at >= since]
            if titles:
                unread[str(user_id)] = titles
        get_stream_writer()({"progress": 0.5, "message": f"{len(unread)} users to tell"})
        return {"unread": unread}

    async def send(state: Digest, config: RunnableConfig) -> Digest:
        org_id = UUID(config["configurable"]["org_id"])
        thread = config["configurable"]["thread_id"]
        for user_id, titles in state["unread"].items():
            request = NotificationRequest(
                template_key=MESSAGE,
                category="announcement",
                recipients=[Recipient(user_id=UUID(user_id))],
                # A rerun of the step sends nothing twice.
                idempotency_key=f"digest:{thread}:{user_id}",
                data={"title": f"{len(titles)} unread notifications", "body": "\n".join(titles)},
                channels=["email"],
                org_id=org_id,
            )
            await service().notify(request)
        return {"sent": len(state["unread"])}

    graph = StateGraph(Digest)
    graph.add_node("collect", collect)
    graph.add_node("send", send)
    graph.add_edge(START, "collect")
    graph.add_edge("collect", "send")
    graph.add_edge("send", END)
    return graph


NOTIFICATION_DIGEST = register_workflow(
    Workflow(
        name="notification_digest",
        version=1,
        description="Unread in-app notifications since a time, as one email per user.",
        input_schema={
            "type": "object",
            "properties": {"since": {"type": "string", "format": "date-time"}},
            "required": ["since"],
            "additionalProperties": False,
        },
        graph=build,
    )
)
