"""What other parties may know of auth: the codes its mutations return besides the kernel's."""

from __future__ import annotations

import enum


class AuthErrorCode(enum.StrEnum):
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105 - an error code
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
