"""An execution history as a readable timeline: one row per state, with timing and retries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Step:
    name: str
    type: str
    started_ms: float
    duration_ms: float | None
    attempts: int
    outcome: str  # "ok", "caught <Error>", "failed <Error>", "running"


def _time(event: dict[str, Any]) -> datetime:
    value = event["timestamp"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def timeline(history: list[dict[str, Any]]) -> tuple[list[Step], str]:
    """The states in the order they ran, and the execution's final status."""
    if not history:
        return [], "UNKNOWN"
    origin = _time(history[0])
    steps: list[Step] = []
    open_steps: dict[str, tuple[Step, datetime]] = {}
    last_error: str | None = None
    status = "RUNNING"
    for event in history:
        kind: str = event["type"]
        if kind.endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            step = Step(
                name,
                kind.removesuffix("StateEntered"),
                _ms(origin, _time(event)),
                None,
                0,
                "running",
            )
            steps.append(step)
            open_steps[name] = (step, _time(event))
            last_error = None
        elif kind.endswith("Scheduled"):
            for step, _ in open_steps.values():
                if step.outcome == "running":
                    step.attempts += 1
        elif kind.endswith("Failed") and not kind.startswith("Execution"):
            details: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            last_error = details.get("error") or kind
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_steps:
                step, entered = open_steps.pop(name)
                step.duration_ms = _ms(entered, _time(event))
                step.outcome = f"caught {last_error}" if last_error else "ok"
                last_error = None
        elif kind in (
            "ExecutionSucceeded",
            "ExecutionFailed",
            "ExecutionTimedOut",
            "ExecutionAborted",
        ):
            status = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED"}.get(
                kind, kind.removeprefix("Execution").upper()
            )
            for step, entered in open_steps.values():
                step.duration_ms = _ms(entered, _time(event))
                step.outcome = f"failed {last_error}" if last_error else "failed"
            open_steps.clear()
    return steps, status


def render(history: list[dict[str, Any]], *, title: str, console: Console) -> None:
    steps, status = timeline(history)
    table = Table(title=f"{title} — {status}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("State")
    table.add_column("Type")
    table.add_column("Start", justify="right")
    table.add_column("Duration", justify="right")
    table.add_column("Attempts", justify="right")
    table.add_column("Outcome")
    for index, step in enumerate(steps, 1):
        colour = (
            "green"
            if step.outcome == "ok"
            else "yellow"
            if step.outcome.startswith("caught")
            else "red"
        )
        table.add_row(
            str(index),
            step.name,
            step.type,
            f"+{step.started_ms:.0f} ms",
            "—" if step.duration_ms is None else f"{step.duration_ms:.0f} ms",
            str(step.attempts) if step.attempts else "",
            f"[{colour}]{step.outcome}[/{colour}]",
        )
    console.print(table)


def _ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000
