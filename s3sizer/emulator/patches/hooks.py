"""What every patch shares, and nothing else: the running emulator's hooks, the registry that
installs each patch and undoes it, per-thread flags, and counters that prove a fast path ran.

Each patch names its moto target and the parameters it expects. A target whose signature has
changed refuses to install, naming the patch, instead of silently doing nothing.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from s3sizer.errors import EmulatorError


@dataclass
class Hooks:
    """What the patched code needs from the running emulator."""

    runtime: Any  # runtime.LambdaRuntime
    delivery: Any  # delivery.AsyncDelivery
    dice: Any  # config.FaultDice
    sequencer: Any  # s3_events.Sequencer
    event_sources: Any  # sqs_poller.SqsEventSources
    stream_sources: Any = None  # stream_poller.StreamEventSources


_active: Hooks | None = None
_thread = threading.local()

# How many times each fast path has run in this process; the contract test reads it.
FAST_PATHS: Counter[str] = Counter()


def current() -> Hooks:
    if _active is None:
        raise EmulatorError("No emulator is active in this process", "start an Emulator first")
    return _active


def set_active(hooks: Hooks | None) -> None:
    global _active
    _active = hooks


def active() -> bool:
    return _active is not None


@contextmanager
def quiet() -> Iterator[None]:
    """moto's own S3 events are silenced here; the caller sends the right ones."""
    previous, _thread.quiet = getattr(_thread, "quiet", False), True
    try:
        yield
    finally:
        _thread.quiet = previous


def is_quiet() -> bool:
    return getattr(_thread, "quiet", False)


@contextmanager
def flag(name: str) -> Iterator[None]:
    previous = getattr(_thread, name, False)
    setattr(_thread, name, True)
    try:
        yield
    finally:
        setattr(_thread, name, previous)


def flagged(name: str) -> bool:
    return getattr(_thread, name, False)


@dataclass(frozen=True)
class Target:
    """One moto attribute a patch replaces, with the parameters the patch was written for."""

    patch: str  # what the patch does, named in every error about it
    module: str  # e.g. "moto.s3.models"
    owner: str | None  # a class in that module, or None for a module-level attribute
    attribute: str
    parameters: tuple[str, ...] | None  # None: not a function (a module such as `copy`)
    adds: bool = False  # the patch adds what moto lacks: the attribute must not exist yet
    # The patch passes whatever follows ``parameters`` on as it came: only they must match.
    leading: bool = False

    def resolve_owner(self) -> Any:
        module = importlib.import_module(self.module)
        return getattr(module, self.owner) if self.owner else module

    @property
    def dotted(self) -> str:
        return ".".join(filter(None, (self.module, self.owner, self.attribute)))

    def problem(self) -> str | None:
        """Why this target no longer fits its patch, or None."""
        try:
            owner = self.resolve_owner()
        except (ImportError, AttributeError) as error:
            return f"{self.dotted} is gone ({error})"
        if self.adds:
            if hasattr(owner, self.attribute):
                return f"moto now has {self.dotted}: the emulator's own should go"
            return None
        try:
            value = getattr(owner, self.attribute)
        except AttributeError as error:
            return f"{self.dotted} is gone ({error})"
        if self.parameters is None:
            return None
        try:
            found = tuple(inspect.signature(value).parameters)
        except (TypeError, ValueError):
            return f"{self.dotted} is no longer a function"
        if (found[: len(self.parameters)] if self.leading else found) != self.parameters:
            expects = f"{self.parameters} first" if self.leading else f"{self.parameters}"
            return f"{self.dotted} takes {found}, the patch expects {expects}"
        return None


class PatchSet:
    """Installs patches and undoes every one of them, leaving moto exactly as it was."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, bool, Any]] = []

    def replace(self, target: Target, make: Callable[[Any], Any]) -> None:
        problem = target.problem()
        if problem:
            raise EmulatorError(
                f"The emulator's patch '{target.patch}' does not fit this moto: {problem}",
                "install a moto version the emulator supports (moto[server]>=5.2,<5.3)",
            )
        owner = target.resolve_owner()
        had_own = target.attribute in vars(owner)
        own_value = vars(owner).get(target.attribute)
        setattr(owner, target.attribute, make(getattr(owner, target.attribute, None)))
        self._undo.append((owner, target.attribute, had_own, own_value))

    def require(self, target: Target) -> None:
        """Check a moto attribute a patch relies on without replacing it."""
        problem = target.problem()
        if problem:
            raise EmulatorError(
                f"The emulator's patch '{target.patch}' does not fit this moto: {problem}",
                "install a moto version the emulator supports (moto[server]>=5.2,<5.3)",
            )

    def undo(self) -> None:
        while self._undo:
            owner, attribute, had_own, own_value = self._undo.pop()
            if had_own:
                setattr(owner, attribute, own_value)
            else:
                delattr(owner, attribute)
