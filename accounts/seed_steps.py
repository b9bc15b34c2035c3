"""The demo data of ``manage.py seed_demo``: each app registers the step that makes its own,
from its AppConfig.ready(), and the command (config) runs the steps in ``order``:

    from accounts import seed_steps
    seed_steps.register("catalog", seed_steps.command_step("seed_catalog"), order=20)

A step takes the run's :class:`SeedContext` (output streams, the demo passwords, the demo
users made by the first step) and must be safe to run again.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.management import call_command


@dataclass
class SeedContext:
    stdout: Any
    stderr: Any
    passwords: dict[str, str]
    users: dict[str, Any] = field(default_factory=dict)


SeedFn = Callable[[SeedContext], None]


@dataclass(frozen=True)
class SeedStep:
    name: str
    fn: SeedFn
    order: int


_STEPS: dict[str, SeedStep] = {}


def register(name: str, fn: SeedFn, *, order: int) -> None:
    """Add (or replace, on re-import) the step ``name``; lower ``order`` runs first."""
    if not name or not callable(fn):
        raise ValueError("register() needs a step name and a callable")
    _STEPS[name] = SeedStep(name, fn, order)


def steps() -> list[SeedStep]:
    """Every registered step, in the order they run."""
    return sorted(_STEPS.values(), key=lambda step: (step.order, step.name))


def command_step(command: str, *args: str) -> SeedFn:
    """A step that runs an app's own seed command with ``args``."""

    def run(context: SeedContext) -> None:
        context.stdout.write(f"→ {command}")
        call_command(command, *args, stdout=context.stdout, stderr=context.stderr)

    return run
