"""What other parties may know of support: the codes its mutations return besides the kernel's,
and the names of its worker jobs."""

from __future__ import annotations

from subgraphs.kernel.errors import Code

SLA_WATCH_JOB = "support_sla_watch"
SCAN_JOB = "support_scan_attachment"
EMBED_JOB = "support_embed_ticket"


class SupportErrorCode(Code):
    INVALID_STATUS_TRANSITION = (
        "INVALID_STATUS_TRANSITION",
        "The ticket cannot move from its status to that one.",
    )
    ATTACHMENT_TOO_LARGE = (
        "ATTACHMENT_TOO_LARGE",
        "The declared or uploaded file is over the size limit.",
    )
    ATTACHMENT_TYPE_NOT_ALLOWED = (
        "ATTACHMENT_TYPE_NOT_ALLOWED",
        "The file's content type is not accepted.",
    )
    ATTACHMENT_NOT_UPLOADED = (
        "ATTACHMENT_NOT_UPLOADED",
        "The upload was asked for but no file arrived.",
    )
    ATTACHMENT_INFECTED = (
        "ATTACHMENT_INFECTED",
        "The virus scanner found malware in the file; it was deleted.",
    )
    ASSIGNEE_NOT_AGENT = "ASSIGNEE_NOT_AGENT", "The assignee is no agent of the organization."
    AGENT_AT_CAPACITY = "AGENT_AT_CAPACITY", "The agent holds their capacity of open tickets."
    CANNOT_MERGE_INTO_ITSELF = "CANNOT_MERGE_INTO_ITSELF", "A ticket cannot be merged into itself."
    ALREADY_MERGED = "ALREADY_MERGED", "The ticket has been merged already."
    RATING_ALREADY_GIVEN = "RATING_ALREADY_GIVEN", "The ticket has its satisfaction rating already."
    SLA_POLICY_LIMIT_REACHED = (
        "SLA_POLICY_LIMIT_REACHED",
        "The organization holds as many SLA policies as its plan allows.",
    )
