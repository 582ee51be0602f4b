"""Roles, ordered: every role can do what the roles below it can.

``Role`` is a ``StrEnum`` for storage and JSON, but its comparisons follow the
rank, not the spelling: as plain strings ``"admin" < "user"``, which would turn
every permission check upside down.
"""

from __future__ import annotations

from enum import StrEnum

from kartoteka.domain.errors import Refusal


class Role(StrEnum):
    USER = "user"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, needed: Role) -> bool:
        return self.rank >= needed.rank

    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)


_RANKS = {Role.USER: 0, Role.EDITOR: 1, Role.ADMIN: 2}


def _rank_of(other: object) -> int:
    """Refuses ``Role.USER < "editor"``: str's reflected comparison would answer it alphabetically."""
    if not isinstance(other, Role):
        raise TypeError(f"a Role is ordered against another Role, not {type(other).__name__}")
    return other.rank


class UnknownRoleError(Refusal, ValueError):
    """A role name that is none of user, editor, admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"field": "role"})


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise UnknownRoleError(f"unknown role {value[:40]!r}; use one of user, editor, admin") from None
