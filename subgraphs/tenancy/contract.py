"""What other parties may know of tenancy: the codes its mutations return besides the kernel's."""

from __future__ import annotations

import enum


class TenancyErrorCode(enum.StrEnum):
    SLUG_TAKEN = "SLUG_TAKEN"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    LAST_OWNER = "LAST_OWNER"
