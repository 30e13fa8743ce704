"""The engine's typed errors and the one table that maps each to HTTP, API and CLI terms."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class EngineError(Exception):
    """Base of the engine's typed errors; :data:`ERROR_TABLE` says how callers report each.

    Besides its English text (the API's and the CLI's message, unchanged), an error carries a
    message code and its arguments (:attr:`message_code`, :attr:`message_args`) from which a user
    interface says the same in the user's language. A raise site may name them
    (``Conflict("...", message_code="task_not_ready", task=..., state=...)``); otherwise they are
    read from the text by :data:`MESSAGE_PATTERNS`, and an unknown text has the code of its kind.
    """

    def __init__(self, *args: Any, message_code: str | None = None, **message_args: Any):
        super().__init__(*args)
        self._message_code = message_code
        self._message_args = message_args

    @property
    def message_code(self) -> str:
        """What happened, as a stable code (``task_not_ready``…; the API code when nothing finer is known)."""
        if self._message_code is None:
            self._message_code, found = _classify(type(self), self.message)
            self._message_args = {**found, **self._message_args}
        return self._message_code

    @property
    def message_args(self) -> dict[str, Any]:
        """The values a translated message names (task, state, instance, status, holder…)."""
        self.message_code  # noqa: B018 - classifies the text once
        return dict(self._message_args)

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
        super().__init__(message + ": " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
                         message_code="invalid_data")
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
        super().__init__("deployment refused:\n" + "\n".join(f"  {p}" for p in problems),
                         message_code="deploy_rejected", count=len(problems))
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


#: The engine's English texts and the message code each stands for; named groups are the
#: arguments. One line per kind of text the engine raises (``run.py``, ``sync.py``, ``timers.py``,
#: ``definitions.py``, ``records.py``); tests check that every raise site's text is covered.
MESSAGE_PATTERNS: tuple[tuple[type[EngineError], re.Pattern[str], str], ...] = tuple(
    (kind, re.compile(pattern), code) for kind, pattern, code in (
        (Conflict, r"task (?P<task>\S+) is no longer ready \(it is (?P<state>\w+)\)", "task_not_ready"),
        (Conflict, r"task (?P<task>\S+) is no longer ready", "task_not_ready"),
        (Conflict, r"task is already claimed by (?P<holder>.+)", "task_claimed"),
        (Conflict, r"someone else took or finished the task meanwhile", "task_taken"),
        (Conflict, r"the case is being changed by someone else", "case_busy"),
        (Conflict, r"the case was changed by someone else", "case_changed"),
        (Conflict, r"draft (?P<draft>\d+) was made from version (?P<base>\d+), and version (?P<latest>\d+) was "
                   r"deployed since", "draft_base_outdated"),
        (Conflict, r"another deployment stored version (?P<version>\S+) of (?P<process>\S+) at the same time",
         "deploy_race"),
        (InstanceError, r"instance (?P<instance>\d+) is (?P<status>\w+), not in error", "case_not_in_error"),
        (InstanceError, r"instance (?P<instance>\d+) is already (?P<status>\w+)", "case_already_ended"),
        (InstanceError, r"instance (?P<instance>\d+) is (?P<status>\w+)", "case_stopped"),
        (NotFound, r"no task (?P<task>\S+)", "task_not_found"),
        (NotFound, r"no instance (?P<instance>\S+)", "case_not_found"),
        (NotFound, r"process '(?P<process>[^']+)' has no version (?P<version>\S+)", "version_not_found"),
        (NotFound, r"no process '(?P<process>[^']+)' is deployed", "process_not_deployed"),
        (NotFound, r"no process version (?:with id )?(?P<version>\S+)", "version_not_found"),
        (NotFound, r"no BPMN file of version (?P<version>\S+)", "diagram_not_found"),
        (Forbidden, r"task '(?P<task>.+)' belongs to role '(?P<role>[^']+)'", "task_of_other_role"),
        (Conflict, r"task '(?P<task>.+)' is claimed by (?P<holder>.+)", "task_claimed"),
        (Forbidden, r"only the holder or an admin can release this task", "release_not_allowed"),
        (Forbidden, r"only the holder of the task, its substitute, a manager or an admin", "delegation_not_allowed"),
    )
)


def _classify(kind: type[EngineError], text: str) -> tuple[str, dict[str, str]]:
    for klass, pattern, code in MESSAGE_PATTERNS:
        if issubclass(kind, klass):
            match = pattern.match(text)
            if match:
                return code, {k: v for k, v in match.groupdict().items() if v is not None}
    return describe(kind).api_code, {}
