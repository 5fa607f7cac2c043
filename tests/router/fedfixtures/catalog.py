"""Catalog: marketing copy keyed by sku and brand; takes over descriptions progressively."""

import strawberry
from strawberry.federation.schema_directives import Key, Override
from strawberry.federation.types import FieldSet

COPY = {"SKU-1": "A sturdy oak table", "SKU-2": "A couch for four", "SKU-3": "A simple chair"}
CURATORS = {"SKU-1": "2", "SKU-2": "1", "SKU-3": "2"}
NAMES = {"SKU-1": "Table", "SKU-2": "Couch", "SKU-3": "Chair"}


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class User:
    id: strawberry.ID


@strawberry.federation.type(shareable=True)
class Brand:
    id: strawberry.ID


@strawberry.federation.type(keys=["sku brand { id }"])
class Product:
    sku: str
    brand: Brand
    name: str | None = strawberry.federation.field(shareable=True)

    @strawberry.federation.field(override=Override(override_from="products", label="percent(50)"))
    def description(self) -> str | None:
        return f"{COPY.get(self.sku)} (from catalog)"

    @strawberry.field
    def tagline(self) -> str | None:
        return COPY.get(self.sku, "").upper()

    @strawberry.field
    def curator(self) -> User | None:
        id = CURATORS.get(self.sku)
        return User(id=strawberry.ID(id)) if id else None

    @classmethod
    def resolve_reference(cls, sku: str, brand: dict[str, str]) -> "Product":
        return cls(sku=sku, brand=Brand(id=strawberry.ID(brand["id"])), name=NAMES.get(sku))


@strawberry.type
class Query:
    @strawberry.field
    def catalog_items(self) -> list[Product]:
        return [Product.resolve_reference(sku, {"id": "b1"}) for sku in COPY]


schema = strawberry.federation.Schema(query=Query)
