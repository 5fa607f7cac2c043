"""The approval page an emailed link opens: ``GET`` shows what the run asks and one button,
which ``POST``s to the same address; only the POST decides, so mail scanners that open links
decide nothing. The token in the address is the credential (no cookie is read), and a POST sent
by another site's page is refused, so no page can make a browser decide for its user."""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from subgraphs.kernel.db import utcnow
from subgraphs.kernel.errors import Rejected
from subgraphs.workers.approvals import question_of
from subgraphs.workers.contract import APPROVAL_PATH
from subgraphs.workers.models import Approval
from subgraphs.workers.service import JobService

HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
STATUS_OF_CODE = {"INVALID_TOKEN": 404, "APPROVAL_EXPIRED": 410, "INVALID_INPUT": 400}
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16384


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}"
        "pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _refused(problem: Rejected) -> HTMLResponse:
    first = problem.problems[0]
    status = STATUS_OF_CODE.get(str(first.code), 409)
    return _page("Nothing was decided", f"<p>{escape(first.message)}</p>", status)


def _asked(approval: Approval) -> str:
    payload = orjson.dumps(approval.payload, option=orjson.OPT_INDENT_2).decode()
    return (
        f"<p>{escape(question_of(approval.payload))}</p>"
        f"<p>Workflow <strong>{escape(approval.workflow)}</strong>; decide before "
        f"{escape(approval.expires_at.isoformat(timespec='minutes'))}.</p>"
        f"<pre>{escape(payload)}</pre>"
    )


async def show(request: Request) -> HTMLResponse:
    service: JobService = request.app.state.services
    try:
        approval, link = await service.link(request.path_params["token"])
    except Rejected as problem:
        return _refused(problem)
    if not approval.pending:
        return _page("Already decided", f"<p>It was {escape(approval.status)}.</p>", 409)
    if approval.expires_at <= utcnow():
        return _page("Nothing was decided", "<p>The time to decide is over.</p>", 410)
    label = "Approve" if link.decision == "approve" else "Reject"
    form = (
        f'<form method="post"><p><label>Comment<br><textarea name="comment" maxlength="2000">'
        f'</textarea></label></p><p><button type="submit">{label}</button></p></form>'
    )
    return _page(f"{label}?", _asked(approval) + form)


def _cross_site(request: Request, public_url: str) -> bool:
    """A POST that another site's page made the browser send."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:  # a same-origin form POST may send none
        return False
    ours = urlsplit(public_url)
    return origin != f"{ours.scheme}://{ours.netloc}"


async def decide(request: Request) -> HTMLResponse:
    service: JobService = request.app.state.services
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media != FORM or _cross_site(request, service.settings.core.public_url):
        return _page("Nothing was decided", "<p>Use the button on the approval page.</p>", 403)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _page("Nothing was decided", "<p>The comment is too long.</p>", 413)
    comment = parse_qs(body.decode(errors="replace")).get("comment", [None])[0]
    try:
        approval, job = await service.decide_by_link(request.path_params["token"], comment)
    except Rejected as problem:
        return _refused(problem)
    return _page(approval.status.capitalize(), f"<p>Thank you; {_goes_on(len(job.interrupts))}</p>")


def _goes_on(left: int) -> str:
    """When the run goes on, with ``left`` of its interrupts undecided."""
    if left == 0:
        return "the run goes on."
    if left == 1:
        return "the run goes on once its other question is decided too."
    return f"the run goes on once its {left} other questions are decided too."


ROUTES = [
    Route(f"{APPROVAL_PATH}/{{token}}", show, methods=["GET"]),
    Route(f"{APPROVAL_PATH}/{{token}}", decide, methods=["POST"]),
]
