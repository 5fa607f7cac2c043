"""What other parties may know of billing: the codes its mutations return besides the kernel's,
its job names, the channel on which it announces plan changes and the route Stripe posts
its events to."""

from __future__ import annotations

import enum

WEBHOOK_PATH = "/stripe/webhook"  # where Stripe delivers its events to the billing subgraph
# Published with {"org_id": ..., "plan": ...} once an organization's effective plan changed.
PLAN_CHANGED_CHANNEL = "vetrai:billing:plan-changed"
APPLY_EVENT_JOB = "billing.apply_event"
APPLY_PENDING_JOB = "billing.apply_pending"


class BillingErrorCode(enum.StrEnum):
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND"
    SAME_PLAN = "SAME_PLAN"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    NO_SUBSCRIPTION = "NO_SUBSCRIPTION"
    NO_PAYMENT_METHOD = "NO_PAYMENT_METHOD"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    BILLING_PROVIDER_UNAVAILABLE = "BILLING_PROVIDER_UNAVAILABLE"
