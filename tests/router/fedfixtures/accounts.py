"""Accounts: users, the current user, and user mutations."""

import strawberry

USERS: dict[str, dict[str, str]] = {
    "1": {"name": "Ada Lovelace", "username": "ada", "nickname": "countess"},
    "2": {"name": "Alan Turing", "username": "alan", "nickname": "prof"},
}


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    name: str | None
    username: str | None = strawberry.federation.field(shareable=True)
    password_hash: str | None = strawberry.federation.field(inaccessible=True, default=None)

    @strawberry.field
    def nickname(self) -> str | None:
        return USERS[self.id]["nickname"]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> "User | None":
        return user_by_id(id)


def user_by_id(id: str) -> User | None:
    row = USERS.get(id)
    if row is None:
        return None
    return User(id=strawberry.ID(id), name=row["name"], username=row["username"])


@strawberry.type
class Query:
    @strawberry.field
    def me(self) -> User | None:
        return user_by_id("1")

    @strawberry.field
    def user(self, id: strawberry.ID) -> User | None:
        return user_by_id(id)


@strawberry.type
class Mutation:
    @strawberry.mutation
    def create_user(self, name: str) -> User:
        id = str(len(USERS) + 1)
        USERS[id] = {"name": name, "username": name.lower(), "nickname": ""}
        return User(id=strawberry.ID(id), name=name, username=name.lower())

    @strawberry.mutation
    def rename_user(self, id: strawberry.ID, name: str) -> User | None:
        if id not in USERS:
            return None
        USERS[id]["name"] = name
        return user_by_id(id)


schema = strawberry.federation.Schema(query=Query, mutation=Mutation)
