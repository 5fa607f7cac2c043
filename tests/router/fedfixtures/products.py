"""Products: the catalogue's prices and weights, reachable by upc or by sku and brand."""

import strawberry


@strawberry.federation.type(shareable=True)
class Brand:
    id: strawberry.ID
    name: str


@strawberry.federation.type(shareable=True)
class Dimensions:
    size: int
    weight: int


@strawberry.federation.type(keys=["upc", "sku brand { id }"])
class Product:
    upc: strawberry.ID
    sku: str
    brand: Brand
    name: str | None = strawberry.federation.field(shareable=True)
    price: int | None
    weight: int | None
    dimensions: Dimensions | None
    description: str | None

    @classmethod
    def resolve_reference(cls, **key: object) -> "Product | None":
        if "upc" in key:
            return PRODUCTS.get(str(key["upc"]))
        return next((p for p in PRODUCTS.values() if p.sku == key.get("sku")), None)


def _product(upc: str, name: str, price: int, weight: int, size: int) -> Product:
    return Product(
        upc=strawberry.ID(upc),
        sku=f"SKU-{upc}",
        brand=Brand(id=strawberry.ID("b1"), name="Acme"),
        name=name,
        price=price,
        weight=weight,
        dimensions=Dimensions(size=size, weight=weight),
        description=f"{name} (from products)",
    )


PRODUCTS = {
    "1": _product("1", "Table", 899, 100, 3),
    "2": _product("2", "Couch", 1299, 1000, 8),
    "3": _product("3", "Chair", 54, 50, 1),
}


@strawberry.type
class Query:
    @strawberry.field
    def top_products(self, first: int = 5) -> list[Product | None]:
        found: list[Product | None] = list(PRODUCTS.values())
        return found[:first]

    @strawberry.field
    def product(self, upc: strawberry.ID) -> Product | None:
        return PRODUCTS.get(upc)


schema = strawberry.federation.Schema(query=Query)
