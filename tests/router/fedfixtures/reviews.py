"""Reviews: reviews of products by users, users' nicknames, and ratings of any media."""

from dataclasses import dataclass

import strawberry


@dataclass
class ReviewRow:
    id: str
    body: str
    author_id: str
    upc: str
    stars: int


REVIEWS = [
    ReviewRow("r1", "Love it!", "1", "1", 5),
    ReviewRow("r2", "Too expensive.", "1", "2", 2),
    ReviewRow("r3", "Could be better.", "2", "3", 3),
    ReviewRow("r4", "Prefer something else.", "2", "1", 2),
]
USERNAMES = {"1": "ada", "2": "alan"}
NICKNAMES = {"1": "Enchantress of Numbers", "2": "Prof"}
RATINGS = {"m1": 5, "m2": 4}


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    username: str | None = strawberry.federation.field(external=True, default=None)

    @strawberry.federation.field(override="accounts")
    def nickname(self) -> str | None:
        return NICKNAMES.get(self.id)

    @strawberry.field
    def reviews(self) -> list["Review"]:
        return [to_review(r) for r in REVIEWS if r.author_id == self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "User":
        return cls(id=id)


@strawberry.federation.type(keys=["upc"])
class Product:
    upc: strawberry.ID

    @strawberry.field
    def reviews(self) -> list["Review"]:
        return [to_review(r) for r in REVIEWS if r.upc == self.upc]

    @strawberry.field
    def reviews_by_stars(self) -> list[list["Review"]]:
        mine = [r for r in REVIEWS if r.upc == self.upc]
        stars = sorted({r.stars for r in mine}, reverse=True)
        return [[to_review(r) for r in mine if r.stars == s] for s in stars]

    @classmethod
    def resolve_reference(cls, upc: strawberry.ID) -> "Product":
        return cls(upc=upc)


@strawberry.federation.type(keys=["id"])
class Review:
    id: strawberry.ID
    body: str
    stars: int
    product: Product
    author: User = strawberry.federation.field(provides=["username"])

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "Review | None":
        return next((to_review(r) for r in REVIEWS if r.id == id), None)


@strawberry.federation.interface_object(keys=["id"])
class Media:
    id: strawberry.ID

    @strawberry.field
    def rating(self) -> int | None:
        return RATINGS.get(self.id)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "Media":
        return cls(id=id)


def to_review(row: ReviewRow) -> Review:
    author = User(id=strawberry.ID(row.author_id), username=USERNAMES[row.author_id])
    return Review(
        id=strawberry.ID(row.id),
        body=row.body,
        stars=row.stars,
        product=Product(upc=strawberry.ID(row.upc)),
        author=author,
    )


@strawberry.type
class Query:
    @strawberry.field
    def top_reviews(self, first: int = 2) -> list[Review]:
        return [to_review(r) for r in REVIEWS[:first]]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def add_review(self, upc: strawberry.ID, body: str) -> Review:
        row = ReviewRow(f"r{len(REVIEWS) + 1}", body, "1", upc, 4)
        REVIEWS.append(row)
        return to_review(row)


schema = strawberry.federation.Schema(query=Query, mutation=Mutation, types=[Media])
