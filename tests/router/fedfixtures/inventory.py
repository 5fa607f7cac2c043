"""Inventory: stock and shipping, computed from the products' price, weight and size."""

import strawberry

IN_STOCK = {"1": True, "2": False}


@strawberry.federation.type(shareable=True)
class Dimensions:
    size: int
    weight: int


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: strawberry.ID
    price: int | None = strawberry.federation.field(external=True)
    weight: int | None = strawberry.federation.field(external=True)
    dimensions: Dimensions | None = strawberry.federation.field(external=True)

    @strawberry.field
    def in_stock(self) -> bool:
        # Product "3" has no stock record: the non-null field comes back null on purpose.
        return IN_STOCK.get(self.upc)  # type: ignore[return-value]

    @strawberry.federation.field(requires=["price weight"])
    def shipping_estimate(self) -> int | None:
        if self.price is None or self.weight is None:
            return None
        return 0 if self.price > 1000 else self.weight // 2

    @strawberry.federation.field(requires=["dimensions { size }"])
    def packaging(self) -> str | None:
        if self.dimensions is None:
            return None
        return "crate" if self.dimensions.size > 5 else "box"

    @classmethod
    def resolve_reference(
        cls,
        upc: strawberry.ID,
        price: int | None = None,
        weight: int | None = None,
        dimensions: dict[str, int] | None = None,
    ) -> "Product":
        dims = Dimensions(size=dimensions["size"], weight=0) if dimensions else None
        return cls(upc=upc, price=price, weight=weight, dimensions=dims)


schema = strawberry.federation.Schema(query=None, types=[Product])
