"""Two Strawberry subgraphs declaring authorization and demand control, for a fixture group."""

from __future__ import annotations

from enum import Enum
from typing import NewType

import strawberry
from strawberry.federation.schema_directives import Cost, ListSize, Policy, RequiresScopes


@strawberry.federation.enum(directives=[Policy(policies=[["plans:read"]])])
class Plan(Enum):
    FREE = "free"
    PRO = "pro"


Money = strawberry.federation.scalar(
    NewType("Money", str), directives=[RequiresScopes(scopes=[["billing:read"]]), Cost(weight=2)]
)


@strawberry.federation.type(keys=["id"], authenticated=True)
class Account:
    id: strawberry.ID
    plan: Plan
    owner_email: str = strawberry.federation.field(policy=[["org:manage"]])
    balance: Money = strawberry.federation.field(  # type: ignore[valid-type]
        requires_scopes=[["billing:read"], ["admin"]], shareable=True
    )


@strawberry.type
class AccountsQuery:
    @strawberry.federation.field(
        directives=[
            ListSize(slicing_arguments=["first"], assumed_size=50, sized_fields=[]),
            Cost(weight=3),
        ]
    )
    def accounts(self, first: int = 10) -> list[Account]:
        return []


BillingMoney = strawberry.federation.scalar(
    NewType("BillingMoney", str), name="Money", directives=[Policy(policies=[["billing"]])]
)


@strawberry.federation.type(name="Account", keys=["id"], requires_scopes=[["billing:read"]])
class BillingAccount:
    id: strawberry.ID
    balance: BillingMoney = strawberry.federation.field(  # type: ignore[valid-type]
        requires_scopes=[["billing:admin"]], shareable=True
    )


@strawberry.type
class BillingQuery:
    @strawberry.federation.field(authenticated=True)
    def invoices_total(self) -> int:
        return 0


SCHEMAS = {
    "accounts": strawberry.federation.Schema(query=AccountsQuery, types=[Account]),
    "billing": strawberry.federation.Schema(query=BillingQuery, types=[BillingAccount]),
}
