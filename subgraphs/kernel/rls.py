"""SQL for row-level security, used by migrations: tenant rows are visible only to their tenant."""

from __future__ import annotations

CURRENT_ORG = "nullif(current_setting('app.org_id', true), '')::uuid"
CURRENT_USER = "nullif(current_setting('app.user_id', true), '')::uuid"


def isolate(table: str, using: str, *, check: str | None = None) -> list[str]:
    """Enable and force RLS on ``table`` (schema-qualified) with one policy for every command."""
    return [
        f"alter table {table} enable row level security",
        f"alter table {table} force row level security",
        f"create policy tenant_isolation on {table} using ({using}) with check ({check or using})",
    ]


def isolate_by_org(table: str, column: str = "org_id") -> list[str]:
    return isolate(table, f"{column} = {CURRENT_ORG}")
