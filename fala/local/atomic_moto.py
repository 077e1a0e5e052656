"""moto's check-then-write operations made atomic, as they are on AWS.

moto evaluates a DynamoDB condition expression and then writes the item in two Python steps, and
checks that an execution name is free and then appends the execution in two more (with a deep copy
of the state machine between them). Two threads can both pass the check: two "in progress"
idempotency records, two executions of one name. On AWS each call is one atomic operation, so
exactly-once in Fala rests on it (Powertools idempotency in "Publish outcome", the execution name
in "Start pipeline"). The local emulation and the tests run moto in-process with threads (the
Lambda runtime, the voice worker, concurrent deliveries), so they serialize these calls.

And an execution always ends: moto runs each in a thread, and an exception that escapes its
interpreter (outside the states, which fail as Step Functions would) ends the thread and leaves
the execution RUNNING for good — CI once waited 300 s on one with no clue why. Here it ends
FAILED, its cause the exception, logged with its traceback.
"""

from __future__ import annotations

import datetime
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()
_MARK = "_fala_atomic"

# (module, class, methods): each method checks a condition, then writes.
_CHECK_THEN_WRITE = (
    (
        "moto.dynamodb.models",
        "DynamoDBBackend",
        (
            "put_item",
            "update_item",
            "delete_item",
            "transact_write_items",
            "execute_statement",
            "execute_transaction",
        ),
    ),
    ("moto.stepfunctions.models", "StepFunctionBackend", ("start_execution",)),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend", ("start_execution",)),
)


def _atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(serialized, _MARK, True)
    return serialized


def _always_ends(run: Callable[..., Any], status: Any) -> Callable[..., Any]:
    @functools.wraps(run)
    def guarded(worker: Any) -> None:
        try:
            run(worker)
        except Exception as exc:
            logging.getLogger("fala.local").exception("moto's interpreter failed an execution")
            execution = getattr(worker._execution_communication, "execution", None)
            if execution is not None and execution.exec_status == status.RUNNING:
                execution.error = "States.Runtime"
                execution.cause = f"the local interpreter failed: {type(exc).__name__}: {exc}"
                execution.stop_date = datetime.datetime.now(tz=datetime.UTC)
                execution.exec_status = status.FAILED

    setattr(guarded, _MARK, True)
    return guarded


def make_moto_writes_atomic() -> None:
    """Patch moto's backends, and its execution threads to always end, once per process
    (idempotent; safe to call from every entry)."""
    import importlib

    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if not getattr(ExecutionWorker._execution_logic, _MARK, False):
        guarded = _always_ends(ExecutionWorker._execution_logic, ExecutionStatus)
        setattr(ExecutionWorker, "_execution_logic", guarded)  # noqa: B010 (mypy: method-assign)

    for module_name, class_name, methods in _CHECK_THEN_WRITE:
        cls = getattr(importlib.import_module(module_name), class_name)
        for name in methods:
            method = cls.__dict__.get(name)
            if method is None or getattr(method, _MARK, False):
                continue
            setattr(cls, name, _atomic(method))
