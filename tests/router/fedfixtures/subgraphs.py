"""The fixture subgraphs by name, and the SDL each one publishes through `_service`."""

import copy
from pathlib import Path

import strawberry

from tests.router.fedfixtures import accounts, catalog, inventory, media, products, reviews

SCHEMAS: dict[str, strawberry.federation.Schema] = {
    "accounts": accounts.schema,
    "catalog": catalog.schema,
    "inventory": inventory.schema,
    "media": media.schema,
    "products": products.schema,
    "reviews": reviews.schema,
}
DATA_DIR = Path(__file__).parent / "data"
_PRISTINE = (copy.deepcopy(accounts.USERS), list(reviews.REVIEWS))


def reset_data() -> None:
    """Undo what mutations did to the in-memory data."""
    accounts.USERS.clear()
    accounts.USERS.update(copy.deepcopy(_PRISTINE[0]))
    reviews.REVIEWS[:] = _PRISTINE[1]


def published_sdl(name: str) -> str:
    result = SCHEMAS[name].execute_sync("{ _service { sdl } }")
    assert result.data is not None, result.errors
    return str(result.data["_service"]["sdl"]).strip() + "\n"


def write_published_sdl() -> None:
    for name in SCHEMAS:
        (DATA_DIR / "sdl" / f"{name}.graphql").write_text(published_sdl(name))


if __name__ == "__main__":
    write_published_sdl()
