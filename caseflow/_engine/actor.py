"""Who acts: a person with roles, or an operator tool that acts for any role."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The one acting. ``roles`` decide which tasks a person may work on; an ``operator``
    (the CLI, the timer worker, the system) may work on any task and says so explicitly."""

    name: str
    roles: frozenset[str] = frozenset()
    operator: bool = False

    @classmethod
    def person(cls, name: str, roles: Iterable[str]) -> Actor:
        """A signed-in person with these roles (``admin`` may work on every task)."""
        return cls(name, frozenset(roles))

    @classmethod
    def tool(cls, name: str = "system") -> Actor:
        """An operator tool acting under ``name`` (audited as such) for any role."""
        return cls(name, operator=True)

    @property
    def is_admin(self) -> bool:
        return self.operator or "admin" in self.roles

    def may_work(self, role: str | None) -> bool:
        """Whether tasks of ``role`` are this actor's to work on."""
        return self.is_admin or (role is not None and role in self.roles)


SYSTEM = Actor.tool("system")
TIMER = Actor.tool("timer")


def name_of(actor: Actor | str) -> str:
    """The name to record for an action that only needs to know who did it."""
    return actor.name if isinstance(actor, Actor) else str(actor)


def require(actor: object) -> Actor:
    """``actor`` as an :class:`Actor`; a bare name is refused, so authorization is never implied."""
    if not isinstance(actor, Actor):
        raise TypeError("pass an engine.Actor: Actor.person(name, roles) for a person, "
                        "Actor.tool(name) for an operator tool")
    return actor
