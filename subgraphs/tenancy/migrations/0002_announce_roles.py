"""Announce every organization's members with their roles once more: notifications (requests
addressed to a role) and workers (approvals to role holders) learnt roles after organizations
existed, and would otherwise know none until each one's next membership change.

The jobs are those ``stage_members`` of each contract stages (same arguments and job ids),
written through the outbox as SQL since a migration has no service.

Revision ID: tenancy_0002
Revises: tenancy_0001
"""

from alembic import op

from subgraphs.notifications.contract import MEMBERS_JOB as NOTIFICATIONS_JOB
from subgraphs.workers.contract import MEMBERS_JOB as WORKERS_JOB

revision = "tenancy_0002"
down_revision = "tenancy_0001"
branch_labels = None
depends_on = None

# ``datetime.isoformat()`` of the migration's time, as the consumers parse ``as_of``
STAMP = """to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
MEMBERS = f"""
with members as (
  select org_id, {STAMP} as stamp, jsonb_agg(user_id::text order by user_id) as users,
    jsonb_object_agg(user_id::text, role) as roles
  from tenancy.memberships group by org_id)
insert into outbox.messages (id, kind, target, job_id, payload, created_at)
select gen_random_uuid(), 'job', '{NOTIFICATIONS_JOB}',
  '{NOTIFICATIONS_JOB}:' || org_id || ':' || stamp,
  jsonb_build_array(org_id::text, users, stamp, roles), now()
from members
union all
select gen_random_uuid(), 'job', '{WORKERS_JOB}', '{WORKERS_JOB}:' || org_id || ':' || stamp,
  jsonb_build_array(org_id::text, roles, stamp), now()
from members"""  # noqa: S608 - built from constants


def upgrade() -> None:
    op.execute(MEMBERS)


def downgrade() -> None:
    pass  # the announcements were sent; they describe what was true
