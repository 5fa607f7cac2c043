"""What other parties may know of keys: the per-day usage counters the router writes in Redis
for every request made with a key (where they are and their fields), the channel on which keys
announces revocations and rotations, the route that verifies a secret, and the codes its
mutations return."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from subgraphs.kernel.errors import Code

SECRET_PREFIX = "vetrai_"  # noqa: S105 - the public prefix of every key, not a secret
CHANGED_CHANNEL = "vetrai:keys:changed"
VERIFY_PATH = "/internal/verify"  # the keys subgraph's route that verifies a secret
USAGE_PATTERN = "vetrai:keys:usage:*"
# Counters outlive several missed flushes; the flush deletes them once they are in PostgreSQL.
USAGE_TTL_SECONDS = 8 * 86400
# A day's counter is a hash of the requests made with the key and, of them, those a limit or a
# scope refused; the key's last-used stamp is an ISO 8601 moment beside it.
REQUESTS_FIELD = "requests"
REJECTED_FIELD = "rejected"


class KeysErrorCode(Code):
    SCOPE_NOT_HELD = "SCOPE_NOT_HELD", "A key cannot get a scope its creator lacks."
    API_KEY_LIMIT_REACHED = (
        "API_KEY_LIMIT_REACHED",
        "The organization holds the most active keys it may.",
    )
    API_KEY_REVOKED = "API_KEY_REVOKED", "The key is revoked: it can no longer be rotated."
    API_KEY_EXPIRED = "API_KEY_EXPIRED", "The key has expired: it can no longer be rotated."


def usage_key(org_id: UUID, key_id: UUID, day: date) -> str:
    return f"vetrai:keys:usage:{org_id}:{key_id}:{day.isoformat()}"


def last_used_key(key_id: UUID) -> str:
    return f"vetrai:keys:last-used:{key_id}"


def parse_usage_key(name: str) -> tuple[UUID, UUID, date]:
    """``(org_id, key_id, day)`` of a counter named by ``usage_key``."""
    org, key, day = name.rsplit(":", 3)[1:]
    return UUID(org), UUID(key), date.fromisoformat(day)
