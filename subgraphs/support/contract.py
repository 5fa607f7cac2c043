"""What other parties may know of support: the codes its mutations return besides the kernel's,
and the names of its worker jobs."""

from __future__ import annotations

import enum

SLA_WATCH_JOB = "support_sla_watch"
SCAN_JOB = "support_scan_attachment"


class SupportErrorCode(enum.StrEnum):
    INVALID_STATUS_TRANSITION = "INVALID_STATUS_TRANSITION"
    ATTACHMENT_TOO_LARGE = "ATTACHMENT_TOO_LARGE"
    ATTACHMENT_TYPE_NOT_ALLOWED = "ATTACHMENT_TYPE_NOT_ALLOWED"
    ATTACHMENT_NOT_UPLOADED = "ATTACHMENT_NOT_UPLOADED"
    ATTACHMENT_INFECTED = "ATTACHMENT_INFECTED"
    ASSIGNEE_NOT_AGENT = "ASSIGNEE_NOT_AGENT"
    AGENT_AT_CAPACITY = "AGENT_AT_CAPACITY"
    CANNOT_MERGE_INTO_ITSELF = "CANNOT_MERGE_INTO_ITSELF"
    ALREADY_MERGED = "ALREADY_MERGED"
    RATING_ALREADY_GIVEN = "RATING_ALREADY_GIVEN"
