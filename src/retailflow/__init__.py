"""retailflow: BPMN 2.0 processes for new-retail operations, on SpiffWorkflow.

The public API is re-exported here::

    from retailflow import Engine, HandlerRegistry, BpmnError
"""

from __future__ import annotations

from retailflow.engine import (
    CalloutError,
    Clock,
    Engine,
    SignalDeliveryError,
    SystemClock,
    VirtualClock,
    Worker,
    WorkerSettings,
)
from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry, RetryPolicy
from retailflow.model import (
    ConcurrentUpdateError,
    Deployment,
    DeploymentError,
    ExpressionError,
    Finding,
    HandlerInputError,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceStatus,
    Job,
    JobKind,
    JobState,
    NotFoundError,
    ProcessDefinition,
    RetailflowError,
    Severity,
    StoreUnavailableError,
    UserTask,
)

__all__ = [
    "BpmnError",
    "CalloutError",
    "Clock",
    "ConcurrentUpdateError",
    "Deployment",
    "DeploymentError",
    "Engine",
    "ExpressionError",
    "Finding",
    "HandlerContext",
    "HandlerInputError",
    "HandlerRegistry",
    "HistoryEvent",
    "HistoryKind",
    "Incident",
    "Instance",
    "InstanceStatus",
    "Job",
    "JobKind",
    "JobState",
    "NotFoundError",
    "ProcessDefinition",
    "RetailflowError",
    "RetryPolicy",
    "Severity",
    "SignalDeliveryError",
    "StoreUnavailableError",
    "SystemClock",
    "UserTask",
    "VirtualClock",
    "Worker",
    "WorkerSettings",
]
