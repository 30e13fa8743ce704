"""The engine's typed errors and the one table that maps each to HTTP, API and CLI terms."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class EngineError(Exception):
    """Base of the engine's typed errors; :data:`ERROR_TABLE` says how callers report each."""

    @property
    def code(self) -> str:
        """The API error code (``{"error": {"code": ...}}``)."""
        return describe(self).api_code

    @property
    def http_status(self) -> int:
        return describe(self).http_status

    @property
    def message(self) -> str:
        """The message without the per-field details (those are in :meth:`fields_payload`)."""
        return str(self)

    def fields_payload(self) -> dict[str, Any]:
        """The ``fields`` of the API error body."""
        return {}


class NotFound(EngineError):
    """No such process, version, instance, task or token."""


class Forbidden(EngineError):
    """The actor may not do this (role, holder)."""


class Conflict(EngineError):
    """Someone else changed the same thing at the same time, or it is no longer there to do."""


class InvalidData(EngineError):
    """Submitted data does not satisfy the form: ``fields`` maps field -> message."""

    def __init__(self, fields: dict[str, str], message: str = "the submitted data is not valid"):
        super().__init__(message + ": " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self._message = message
        self.fields = fields

    @property
    def message(self) -> str:
        return self._message

    def fields_payload(self) -> dict[str, Any]:
        return dict(self.fields)


class DataTooLarge(InvalidData):
    """Submitted data is larger than the limits allow (``caseflow.limits``); ``fields`` names where."""


class DeployRejected(EngineError):
    """A bundle failed validation; nothing was stored. ``problems`` are ``bundles.Problem``s."""

    def __init__(self, problems: list[Any]):
        super().__init__("deployment refused:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems

    def fields_payload(self) -> dict[str, Any]:
        return {"problems": [p.as_dict() for p in self.problems]}


class InstanceError(EngineError):
    """The instance cannot do what was asked in its current state."""


@dataclass(frozen=True)
class ErrorKind:
    """How one engine error is reported: HTTP status, API error code, CLI exit code."""

    http_status: int
    api_code: str
    exit_code: int


#: The one mapping of engine errors to HTTP status, API error code and CLI exit code.
ERROR_TABLE: dict[type[EngineError], ErrorKind] = {
    NotFound: ErrorKind(404, "not_found", 3),
    Forbidden: ErrorKind(403, "forbidden", 4),
    Conflict: ErrorKind(409, "conflict", 5),
    InvalidData: ErrorKind(422, "invalid_data", 6),
    DataTooLarge: ErrorKind(413, "too_large", 6),
    DeployRejected: ErrorKind(422, "deploy_rejected", 7),
    InstanceError: ErrorKind(409, "instance_error", 8),
}
_GENERIC = ErrorKind(400, "error", 1)


def describe(err: EngineError | type[EngineError]) -> ErrorKind:
    """The table entry of ``err`` (or of its nearest listed base class)."""
    cls = err if isinstance(err, type) else type(err)
    for klass in cls.__mro__:
        if klass in ERROR_TABLE:
            return ERROR_TABLE[klass]  # type: ignore[index]
    return _GENERIC
