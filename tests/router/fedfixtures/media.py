"""Media: books and movies behind one interface, and a search over media and products."""

from typing import Annotated

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet


@strawberry.federation.interface(keys=["id"])
class Media:
    id: strawberry.ID
    title: str


@strawberry.federation.type(keys=["id"])
class Book(Media):
    pages: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "Book | None":
        found = MEDIA.get(id)
        return found if isinstance(found, Book) else None


@strawberry.federation.type(keys=["id"])
class Movie(Media):
    minutes: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "Movie | None":
        found = MEDIA.get(id)
        return found if isinstance(found, Movie) else None


@strawberry.federation.type(keys=[Key(fields=FieldSet("upc"), resolvable=False)])
class Product:
    upc: strawberry.ID


MEDIA: dict[str, Media] = {
    "m1": Book(id=strawberry.ID("m1"), title="Dune", pages=412),
    "m2": Movie(id=strawberry.ID("m2"), title="Arrival", minutes=116),
}

SearchResult = Annotated[Book | Movie | Product, strawberry.union("SearchResult")]


@strawberry.type
class Query:
    @strawberry.field
    def media(self) -> list[Media]:
        return list(MEDIA.values())

    @strawberry.field
    def search(self, term: str) -> list[SearchResult]:
        found: list[Book | Movie | Product] = [
            m
            for m in MEDIA.values()
            if term.lower() in m.title.lower() and isinstance(m, Book | Movie)
        ]
        if term.lower() in "table":
            found.append(Product(upc=strawberry.ID("1")))
        return found


schema = strawberry.federation.Schema(query=Query, types=[Book, Movie])
