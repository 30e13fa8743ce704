"""Budgets of sandboxed runs: the time and size limits, and the errors that report them.

Part of :mod:`caseflow._engine.sandbox` (see there); the guards and the compiled code call
:func:`_budget_check` and the size checks here.
"""
from __future__ import annotations

import os
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caseflow import config

#: Scripts are compiled under this file name (SpiffWorkflow reads error lines of ``<string>`` frames).
SCRIPT_FILENAME = "<string>"
#: The largest integer a script may build (bits), whatever the memory budget: big-number
#: arithmetic costs time in C where no trace function can stop it.
MAX_INT_BITS = 100_000
#: The widest field an f-string format spec may ask for.
MAX_FORMAT_WIDTH = 100_000
_SLOT_BYTES = 8  # one reference in a list or tuple
_ITEM_BYTES = 40  # a reference and a new small object (a list built from an iterator)
_RSS_CHECK_BYTES = 64 * 1024  # values at least this big also look at the process's memory
_RSS_EVERY = 512  # budget checks between two looks at the process's memory


class SandboxError(Exception):
    """A script or expression was refused or stopped by the sandbox."""


class ScriptRejected(SandboxError):
    """A script or expression uses something the sandbox does not allow."""


class ScriptBudgetExceeded(SandboxError):
    """A script ran longer, or would build a larger value, than its budget allows."""


# -- budgets -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """What one script or expression run may use."""

    timeout_s: float
    max_bytes: int

    @property
    def max_items(self) -> int:
        """The most references a list, tuple, set or dict of a script may hold."""
        return max(self.max_bytes // _SLOT_BYTES, 1)


_budget: Budget | None = None


def budget() -> Budget:
    """The budget of script runs (from the settings, read once)."""
    global _budget
    if _budget is None:
        settings = config.load()
        _budget = Budget(settings.script_timeout_s, settings.script_max_bytes)
    return _budget


def set_budget(new: Budget | None) -> Budget | None:
    """Replace the budget (None: read the settings again on next use); returns the previous one."""
    global _budget
    previous, _budget = _budget, new
    return previous


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{int(n)} bytes"


Described = str | Callable[[], str]  # what is being built (a callable: computed only for the message)


def _what(what: Described) -> str:
    return what if isinstance(what, str) else what()


def _too_big(what: Described, estimate: float) -> ScriptBudgetExceeded:
    return ScriptBudgetExceeded(
        f"{_what(what)} would build a value of about {_size(estimate)}; scripts may build at most "
        f"{_size(budget().max_bytes)} (CASEFLOW_SCRIPT_MAX_BYTES)")


def _check_bytes(what: Described, estimate: float) -> None:
    """Refuse a value of ``estimate`` bytes over the budget (big ones also check process memory)."""
    if estimate > budget().max_bytes:
        raise _too_big(what, estimate)
    if estimate >= _RSS_CHECK_BYTES:
        run = getattr(_state, "run", None)
        if run is not None:
            run.check_memory(estimate)


def _check_int_bits(what: Described, bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptBudgetExceeded(
            f"{_what(what)} would give an integer of about {int(bits):,} bits; scripts may use integers "
            f"of at most {MAX_INT_BITS:,} bits")


def _rss_bytes() -> int | None:
    """The resident memory of this process (Linux ``/proc``; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_state = threading.local()


class _Run:
    """One limited run: its deadline, the memory it started with, and its budget check."""

    __slots__ = ("deadline", "timeout_s", "max_bytes", "rss_start", "stopped", "check")

    def __init__(self, limits: Budget) -> None:
        self.timeout_s = limits.timeout_s
        self.max_bytes = limits.max_bytes
        self.deadline = time.monotonic() + limits.timeout_s
        self.rss_start: int | None = None  # read at the first look at memory (a file read costs ~10 µs)
        self.stopped: ScriptBudgetExceeded | None = None  # once stopped, a run stays stopped
        self.check = self._checker()

    def stop(self, err: ScriptBudgetExceeded) -> ScriptBudgetExceeded:
        self.stopped = self.stopped or err
        return self.stopped

    def _checker(self) -> Callable[[], bool]:
        """The ``_budget_check_`` of this run's scope: True, or raises once the budget is spent."""
        deadline, monotonic, every = self.deadline, time.monotonic, _RSS_EVERY
        ticks = 0

        def check() -> bool:
            nonlocal ticks
            if self.stopped is not None:
                raise self.stopped
            if monotonic() > deadline:
                raise self.stop(ScriptBudgetExceeded(
                    f"the script ran longer than its time budget of {self.timeout_s:g} s "
                    f"(CASEFLOW_SCRIPT_TIMEOUT_S)"))
            ticks += 1
            if ticks % every == 0:
                try:
                    self.check_memory()
                except ScriptBudgetExceeded as err:
                    raise self.stop(err) from None
            return True

        return check

    def check_memory(self, coming: float = 0) -> None:
        """Refuse when the process grew (or would grow by ``coming``) more than the budget in this run."""
        now = _rss_bytes()
        if now is None:
            return
        if self.rss_start is None:
            self.rss_start = now
        grown = now - self.rss_start + coming
        if grown > self.max_bytes:
            raise ScriptBudgetExceeded(
                f"the script made the server grow by about {_size(grown)}; scripts may use at most "
                f"{_size(self.max_bytes)} (CASEFLOW_SCRIPT_MAX_BYTES)")


def run_limited(code: types.CodeType, scope: dict[str, Any]) -> Any:
    """Run compiled script ``code`` in ``scope`` under the budget; the value of an expression.

    The code checks its budget itself: :class:`CaseflowPolicy` puts a call of
    ``_budget_check_`` at the head of every loop body, comprehension, function, lambda,
    ``except`` and ``finally`` block, and this binds it to the run's deadline. (A trace
    function would do the same for every line or opcode: CPython 3.11 gives a one-line
    ``while True: pass`` no line events, and opcode tracing made scripts 15-50x slower.)
    A run inside a run keeps the outer deadline.
    """
    outer = getattr(_state, "run", None)
    if outer is not None:
        scope["_budget_check_"] = outer.check
        return eval(code, scope)  # noqa: S307 - compiled by RestrictedPython, run with its guards
    run = _Run(budget())
    scope["_budget_check_"] = run.check
    _state.run = run
    try:
        return eval(code, scope)  # noqa: S307 - exec-mode code runs as a module and gives None
    finally:
        _state.run = None


def _budget_check() -> bool:
    """The budget check outside a run (never called by a limited run, whose scope has its own)."""
    run = getattr(_state, "run", None)
    return run.check() if run is not None else True


# -- the compile policy ------------------------------------------------------------------------
