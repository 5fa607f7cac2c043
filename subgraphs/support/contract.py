"""What other parties may know of support: the codes its mutations return besides the kernel's."""

from __future__ import annotations

import enum


class SupportErrorCode(enum.StrEnum):
    INVALID_STATUS_TRANSITION = "INVALID_STATUS_TRANSITION"
    ATTACHMENT_TOO_LARGE = "ATTACHMENT_TOO_LARGE"
    ATTACHMENT_TYPE_NOT_ALLOWED = "ATTACHMENT_TYPE_NOT_ALLOWED"
    ATTACHMENT_NOT_UPLOADED = "ATTACHMENT_NOT_UPLOADED"
    ASSIGNEE_NOT_AGENT = "ASSIGNEE_NOT_AGENT"
    CANNOT_MERGE_INTO_ITSELF = "CANNOT_MERGE_INTO_ITSELF"
    ALREADY_MERGED = "ALREADY_MERGED"
