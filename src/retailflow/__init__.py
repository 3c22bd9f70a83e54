"""retailflow: BPMN 2.0 processes for new-retail operations, on SpiffWorkflow.

The public API is re-exported here::

    from retailflow import Engine, HandlerRegistry, BpmnError
"""

from __future__ import annotations

from retailflow.engine import (
    Clock,
    Engine,
    SystemClock,
    VirtualClock,
    Worker,
    WorkerSettings,
)
from retailflow.handlers import HandlerContext, HandlerRegistry, RetryPolicy
from retailflow.model import (
    BpmnError,
    ConcurrentUpdateError,
    ConfigError,
    Deployment,
    DeploymentError,
    ExecutionError,
    ExpressionError,
    Finding,
    HandlerInputError,
    HandlerTimeoutError,
    HistoryEvent,
    HistoryKind,
    Incident,
    Instance,
    InstanceEndedError,
    InstanceStatus,
    Job,
    JobKind,
    JobState,
    NotFoundError,
    ProcessDefinition,
    RegistryImportError,
    RetailflowError,
    Severity,
    SignalDeliveryError,
    StoreUnavailableError,
    UserTask,
    VariableTypeError,
)

__all__ = [
    "BpmnError",
    "Clock",
    "ConcurrentUpdateError",
    "ConfigError",
    "Deployment",
    "DeploymentError",
    "Engine",
    "ExecutionError",
    "ExpressionError",
    "Finding",
    "HandlerContext",
    "HandlerInputError",
    "HandlerRegistry",
    "HandlerTimeoutError",
    "HistoryEvent",
    "HistoryKind",
    "Incident",
    "Instance",
    "InstanceEndedError",
    "InstanceStatus",
    "Job",
    "JobKind",
    "JobState",
    "NotFoundError",
    "ProcessDefinition",
    "RegistryImportError",
    "RetailflowError",
    "RetryPolicy",
    "Severity",
    "SignalDeliveryError",
    "StoreUnavailableError",
    "SystemClock",
    "UserTask",
    "VariableTypeError",
    "VirtualClock",
    "Worker",
    "WorkerSettings",
]
