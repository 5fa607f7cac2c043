"""What other parties may know of billing: the codes its mutations return besides the kernel's,
its job names, the channel on which it announces plan changes and the route Stripe posts
its events to."""

from __future__ import annotations

import enum
from datetime import datetime

WEBHOOK_PATH = "/stripe/webhook"  # where Stripe delivers its events to the billing subgraph
# Published with {"org_id": ..., "plan": ...} once an organization's effective plan changed.
PLAN_CHANGED_CHANNEL = "vetrai:billing:plan-changed"
APPLY_EVENT_JOB = "billing.apply_event"
APPLY_PENDING_JOB = "billing.apply_pending"
RECORD_USAGE_JOB = "billing.record_usage"  # payload: org_id, meter, quantity, occurred_at, key

API_REQUESTS_METER = "api_requests"


# The router counts each organization's requests in Redis: one counter per UTC hour, flushed into
# the usage ledger by billing's cron once the hour is over, and one per UTC month that the router
# checks against the plan's monthly quota.
def hourly_requests_key(org_id: str, hour: datetime) -> str:
    return f"vetrai:billing:requests:{org_id}:{hour:%Y%m%d%H}"


def monthly_requests_key(org_id: str, month: datetime) -> str:
    return f"vetrai:billing:requests-month:{org_id}:{month:%Y%m}"


class BillingErrorCode(enum.StrEnum):
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND"
    SAME_PLAN = "SAME_PLAN"
    ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
    NO_SUBSCRIPTION = "NO_SUBSCRIPTION"
    NO_PAYMENT_METHOD = "NO_PAYMENT_METHOD"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    BILLING_PROVIDER_UNAVAILABLE = "BILLING_PROVIDER_UNAVAILABLE"


# Plan features (keys of plans.yaml) that the router and other domains enforce from the plan
# signed into the caller.
REQUESTS_PER_MINUTE = "api_requests_per_minute"
REQUESTS_PER_MONTH = "api_requests_per_month"
API_KEYS = "api_keys"
SLA_POLICIES = "sla_policies"
WHITE_LABEL = "white_label"
