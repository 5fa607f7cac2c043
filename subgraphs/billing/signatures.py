"""Stripe's webhook signature: ``Stripe-Signature: t=<seconds>,v1=<hex>[,v1=<hex>]``, an
HMAC-SHA256 of ``<seconds>.<raw body>`` under the endpoint's secret (the previous one too while it
is rotated), refused once older than the tolerance. The keys are prepared once per process."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from subgraphs.billing.settings import BillingSettings

_SCHEME = "v1"


def _parsed(header: str) -> tuple[int | None, list[bytes]]:
    """The header's timestamp (its first ``t``) and its ``v1`` signatures."""
    stamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        name, _, value = item.partition("=")
        if name == "t" and stamp is None:
            try:
                stamp = int(value)
            except ValueError:
                return None, []
        elif name == _SCHEME:
            signatures.append(value.encode())
    return stamp, signatures


class WebhookSignatures:
    """The secrets webhooks may be signed with, and how old a signature may be."""

    def __init__(self, secrets: Sequence[str], tolerance_seconds: int) -> None:
        # An HMAC keyed once (its padded key hashed): each check copies it.
        self._keys = tuple(hmac.new(s.encode(), digestmod=hashlib.sha256) for s in secrets if s)
        self._tolerance = tolerance_seconds

    @classmethod
    def of(cls, settings: BillingSettings) -> WebhookSignatures:
        configured = (settings.stripe_webhook_secret, settings.stripe_webhook_previous_secret)
        secrets = [s.get_secret_value() for s in configured if s is not None]
        return cls(secrets, settings.stripe_webhook_tolerance_seconds)

    def signed(self, body: bytes, header: str, now: float) -> bool:
        """Whether one of the secrets signed ``body`` at most the tolerance before ``now``."""
        stamp, signatures = _parsed(header)
        if stamp is None or not signatures or stamp < now - self._tolerance:
            return False
        for key in self._keys:
            mac = key.copy()
            mac.update(b"%d." % stamp)
            mac.update(body)
            expected = mac.hexdigest().encode()
            if any(hmac.compare_digest(expected, signature) for signature in signatures):
                return True
        return False
