"""What other parties may know of billing: the codes its mutations return besides the kernel's,
its job names, the channel on which it announces plan changes, what the free plan grants and
the route Stripe posts its events to."""

from __future__ import annotations

from datetime import datetime

from core.caller import Limit
from subgraphs.billing.plans import API_REQUESTS_METER as API_REQUESTS_METER  # the one with overage
from subgraphs.billing.plans import catalogue
from subgraphs.kernel.errors import Code
from subgraphs.kernel.usage import RECORD_USAGE_JOB as USAGE_JOB

WEBHOOK_PATH = "/stripe/webhook"  # where Stripe delivers its events to the billing subgraph
# Published with {"org_id": ..., "plan": ...} once an organization's effective plan changed.
PLAN_CHANGED_CHANNEL = "vetrai:billing:plan-changed"
APPLY_EVENT_JOB = "billing.apply_event"
APPLY_PENDING_JOB = "billing.apply_pending"
# Staged by any subgraph through the kernel's ``record_usage`` (payload: ``UsageRecord``).
RECORD_USAGE_JOB = USAGE_JOB
FLUSH_REQUESTS_JOB = "billing.flush_requests"
REPORT_USAGE_JOB = "billing.report_usage"  # the ledger to Stripe as meter events
ANNOUNCE_LAPSES_JOB = "billing.announce_lapses"  # grace days run out: the free plan announced


def free_plan_grants(feature: str) -> Limit | None:
    """What the free plan grants of ``feature`` (None: it does not name it): the plan of every
    organization billing announced no other plan for."""
    return catalogue().free.grants(feature)


# The router counts each organization's requests in Redis: one counter per UTC hour, flushed into
# the usage ledger by billing's cron once the hour is over, and one per UTC month that the router
# checks against the plan's monthly quota.
def hourly_requests_key(org_id: str, hour: datetime) -> str:
    return f"vetrai:billing:requests:{org_id}:{hour:%Y%m%d%H}"


HOURLY_REQUESTS_PATTERN = "vetrai:billing:requests:*"


def monthly_requests_key(org_id: str, month: datetime) -> str:
    return f"vetrai:billing:requests-month:{org_id}:{month:%Y%m}"


class BillingErrorCode(Code):
    PLAN_NOT_FOUND = "PLAN_NOT_FOUND", "No plan has this key (see `plans`)."
    SAME_PLAN = "SAME_PLAN", "The organization is on this plan already."
    ALREADY_SUBSCRIBED = (
        "ALREADY_SUBSCRIBED",
        "The organization has a live subscription: change its plan instead.",
    )
    NO_SUBSCRIPTION = (
        "NO_SUBSCRIPTION",
        "There is no live subscription to change, cancel or open a portal for.",
    )
    NO_PAYMENT_METHOD = (
        "NO_PAYMENT_METHOD",
        "No payment method was given, or the payment provider does not know it.",
    )
    PAYMENT_FAILED = "PAYMENT_FAILED", "The card was declined."
    BILLING_PROVIDER_UNAVAILABLE = (
        "BILLING_PROVIDER_UNAVAILABLE",
        "The payment provider cannot be reached or refused; try again.",
    )
    PORTAL_UNAVAILABLE = (
        "PORTAL_UNAVAILABLE",
        "The payment provider offers no billing portal (Stripe's test server has none).",
    )
    INVALID_RETURN_URL = (
        "INVALID_RETURN_URL",
        "The address to come back to is neither https nor the platform's own origin.",
    )


# Plan features (keys of plans.yaml) that the router and other domains enforce from the plan
# signed into the caller.
REQUESTS_PER_MINUTE = "api_requests_per_minute"
REQUESTS_PER_MONTH = "api_requests_per_month"
API_KEYS = "api_keys"
SLA_POLICIES = "sla_policies"
WHITE_LABEL = "white_label"
# Not a plan feature: sent with the entitlements when an organization caps its overage spending,
# its limit the month's requests at which the cap is reached (the router refuses past it).
REQUESTS_SPEND_CAP = "api_requests_spend_cap"
