"""Tell workers once what every subscribed organization's plan grants of ``concurrent_jobs`` and
``job_history_days``: workers learnt them from plan changes after subscriptions existed, and would
otherwise run the jobs nobody started for a plan (schedules, other domains' jobs) under the free
plan's limit, and keep runs for the free plan's days, until each organization's next plan change.
Organizations that never subscribed are on the free plan, which workers assumes unannounced.

The jobs are those ``stage_plan`` stages, written through the outbox here since a migration has
no service.

Revision ID: billing_0008
Revises: billing_0007
"""

from alembic import op
from sqlalchemy.dialects.postgresql import distinct_on
from sqlmodel import Session, col, select

from subgraphs.billing.models import Subscription
from subgraphs.billing.plans import catalogue
from subgraphs.billing.service import effective_plan
from subgraphs.kernel.db import utcnow
from subgraphs.kernel.outbox import Message
from subgraphs.workers.contract import PLAN_FEATURES, PLAN_JOB, plan_job

revision = "billing_0008"
down_revision = "billing_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    newest = (
        select(Subscription)
        .ext(distinct_on(col(Subscription.org_id)))
        .order_by(col(Subscription.org_id), col(Subscription.created_at).desc())
    )
    now, plans = utcnow(), catalogue()
    with Session(bind=op.get_bind()) as session:
        for subscription in session.exec(newest):
            granted = effective_plan(plans, subscription, now).grants_of(PLAN_FEATURES)
            args, job_id = plan_job(subscription.org_id, granted, now)
            message = Message(kind="job", target=PLAN_JOB, job_id=job_id, payload=args)
            session.add(message)
        session.flush()


def downgrade() -> None:
    pass  # the announcements were sent; they described what was true
