"""THE SEAM: the only package that imports SpiffWorkflow.

Everything above it talks retailflow's types: ``compile_processes`` turns parsed documents into
``CompiledProcess`` objects (or findings), ``ProcessRun`` drives one live instance, and
``StateCodec`` turns its state into bytes and back. An engine upgrade changes this package only.
"""

from __future__ import annotations

from retailflow.engine.spiff.callouts import Callout, CalloutRunner
from retailflow.engine.spiff.compiler import CompiledProcess, SourceTree, compile_processes
from retailflow.engine.spiff.quiet_logs import quiet_spiffworkflow
from retailflow.engine.spiff.runtime import (
    ASYNC_AFTER_JOB,
    FailedActivation,
    PendingCatch,
    PendingJob,
    PendingTimer,
    PendingUserTask,
    ProcessRun,
    Step,
    Thrown,
    WaitStates,
    with_room_for,
)
from retailflow.engine.spiff.script_engine import RetailScriptEngine
from retailflow.engine.spiff.serializer import StateCodec

quiet_spiffworkflow()

__all__ = [
    "ASYNC_AFTER_JOB",
    "Callout",
    "CalloutRunner",
    "CompiledProcess",
    "FailedActivation",
    "PendingCatch",
    "PendingJob",
    "PendingTimer",
    "PendingUserTask",
    "ProcessRun",
    "RetailScriptEngine",
    "SourceTree",
    "StateCodec",
    "Step",
    "Thrown",
    "WaitStates",
    "compile_processes",
    "with_room_for",
]
