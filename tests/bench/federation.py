"""The benchmark's federation in the classic shape: accounts, products, reviews and inventory,
with entity keys, @provides (a review's author username) and @requires (inventory's shipping
estimate from the product's price and weight), answering from fixed data in memory.
"""

from __future__ import annotations

from typing import Any

from tests.bench.lean_subgraph import LeanSubgraph, Object

USERS = 10
PRODUCTS = 20
REVIEWS_PER_USER = 4
LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [{}])\n'

ACCOUNTS_SDL = (
    LINK.format('"@key", "@shareable"')
    + """
type Query {
  me: User
  user(id: ID!): User
  users: [User!]!
}

type User @key(fields: "id") {
  id: ID!
  name: String!
  username: String! @shareable
  birthDate: String!
}
"""
)

PRODUCTS_SDL = (
    LINK.format('"@key"')
    + """
type Query {
  topProducts(first: Int = 5): [Product!]!
  product(upc: String!): Product
}

type Product @key(fields: "upc") {
  upc: String!
  name: String!
  price: Int!
  weight: Int!
}
"""
)

REVIEWS_SDL = (
    LINK.format('"@key", "@external", "@provides"')
    + """
type Review @key(fields: "id") {
  id: ID!
  body: String!
  rating: Int!
  author: User! @provides(fields: "username")
  product: Product!
}

type User @key(fields: "id") {
  id: ID!
  username: String! @external
  reviews: [Review!]!
}

type Product @key(fields: "upc") {
  upc: String!
  reviews: [Review!]!
}
"""
)

INVENTORY_SDL = (
    LINK.format('"@key", "@external", "@requires"')
    + """
type Product @key(fields: "upc") {
  upc: String!
  price: Int! @external
  weight: Int! @external
  inStock: Boolean!
  shippingEstimate: Int! @requires(fields: "price weight")
}
"""
)

LIGHT = """query Light {
  topProducts(first: 5) {
    upc
    name
    price
  }
}"""

HEAVY = """query Heavy {
  users {
    ...UserFields
    reviews {
      ...ReviewFields
      product {
        ...ProductFields
        reviews {
          ...ReviewFields
          author {
            ...UserFields
            reviews {
              ...ReviewFields
              product {
                ...ProductFields
              }
            }
          }
        }
      }
    }
  }
}

fragment UserFields on User {
  id
  name
  username
}

fragment ReviewFields on Review {
  id
  body
  rating
}

fragment ProductFields on Product {
  upc
  name
  price
  weight
  inStock
  shippingEstimate
}"""

OPERATIONS = {"light": LIGHT, "heavy": HEAVY}


def _users() -> list[Object]:
    return [
        {
            "__typename": "User",
            "id": str(i),
            "name": f"User Number {i}",
            "username": f"user{i}",
            "birthDate": f"19{70 + i}-01-0{1 + i % 9}",
        }
        for i in range(1, USERS + 1)
    ]


def _products() -> list[Object]:
    return [
        {
            "__typename": "Product",
            "upc": f"upc-{i}",
            "name": f"Product number {i}",
            "price": 150 * i,
            "weight": 20 + 7 * i,
        }
        for i in range(1, PRODUCTS + 1)
    ]


def _reviews() -> list[Object]:
    return [
        {
            "__typename": "Review",
            "id": str(i),
            "body": f"Review {i}: " + "solid, would buy again. " * 2,
            "rating": 1 + i % 5,
            "author_id": str(1 + i % USERS),
            "upc": f"upc-{1 + i % PRODUCTS}",
        }
        for i in range(USERS * REVIEWS_PER_USER)
    ]


def accounts() -> LeanSubgraph:
    users = {user["id"]: user for user in _users()}
    return LeanSubgraph(
        "accounts",
        ACCOUNTS_SDL,
        query={
            "me": lambda _o, _a: users["1"],
            "user": lambda _o, args: users.get(args["id"]),
            "users": lambda _o, _a: list(users.values()),
        },
        entities={"User": lambda rep: users.get(rep["id"])},
    )


def products() -> LeanSubgraph:
    by_upc = {product["upc"]: product for product in _products()}
    ordered = list(by_upc.values())
    return LeanSubgraph(
        "products",
        PRODUCTS_SDL,
        query={
            "topProducts": lambda _o, args: ordered[: args.get("first", 5)],
            "product": lambda _o, args: by_upc.get(args["upc"]),
        },
        entities={"Product": lambda rep: by_upc.get(rep["upc"])},
    )


def reviews() -> LeanSubgraph:
    all_reviews = _reviews()
    by_id = {review["id"]: review for review in all_reviews}
    usernames = {user["id"]: user["username"] for user in _users()}
    by_author: dict[str, list[Object]] = {}
    by_product: dict[str, list[Object]] = {}
    for review in all_reviews:
        by_author.setdefault(review["author_id"], []).append(review)
        by_product.setdefault(review["upc"], []).append(review)

    def author(review: Object, _args: dict[str, Any]) -> Object:
        user_id = review["author_id"]
        return {"__typename": "User", "id": user_id, "username": usernames[user_id]}

    return LeanSubgraph(
        "reviews",
        REVIEWS_SDL,
        entities={
            "Review": lambda rep: by_id.get(rep["id"]),
            "User": lambda rep: {"__typename": "User", "id": rep["id"]},
            "Product": lambda rep: {"__typename": "Product", "upc": rep["upc"]},
        },
        fields={
            ("Review", "author"): author,
            ("Review", "product"): lambda r, _a: {"__typename": "Product", "upc": r["upc"]},
            ("User", "reviews"): lambda u, _a: by_author.get(u["id"], []),
            ("Product", "reviews"): lambda p, _a: by_product.get(p["upc"], []),
        },
    )


def inventory() -> LeanSubgraph:
    def product(rep: Object) -> Object:
        number = int(rep["upc"].removeprefix("upc-"))
        return {**rep, "inStock": number % 3 != 0}

    def shipping_estimate(product: Object, _args: dict[str, Any]) -> int:
        # Only asked for with the product's price and weight in the representation (@requires).
        return 0 if product["price"] > 1000 else int(product["weight"]) // 2

    return LeanSubgraph(
        "inventory",
        INVENTORY_SDL,
        entities={"Product": product},
        fields={("Product", "shippingEstimate"): shipping_estimate},
    )


SUBGRAPHS = {"accounts": accounts, "products": products, "reviews": reviews, "inventory": inventory}
