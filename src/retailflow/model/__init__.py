"""Plain data shared by every layer: what the engine stores, returns and reports."""

from __future__ import annotations

from retailflow.model.access import ApiToken, Role
from retailflow.model.deployment import Deployment, ProcessDefinition, Resource
from retailflow.model.errors import (
    BpmnError,
    CalloutError,
    ConcurrentUpdateError,
    ConfigError,
    DeploymentError,
    ExecutionError,
    ExpressionError,
    HandlerInputError,
    HandlerTimeoutError,
    InstanceEndedError,
    NotFoundError,
    RegistryImportError,
    RetailflowError,
    SignalDeliveryError,
    StoreUnavailableError,
    VariableTypeError,
)
from retailflow.model.finding import Finding, Severity
from retailflow.model.history import HistoryEvent, HistoryKind
from retailflow.model.instance import Instance, InstanceQuery, InstanceStatus, VariableMatch
from retailflow.model.kpis import KpiWindow, ProcessKpis, StepKpis
from retailflow.model.runtime import (
    BufferedMessage,
    Incident,
    Job,
    JobKind,
    JobState,
    Subscription,
    SubscriptionKind,
    UserTask,
)

__all__ = [
    "ApiToken",
    "BpmnError",
    "BufferedMessage",
    "CalloutError",
    "ConcurrentUpdateError",
    "ConfigError",
    "Deployment",
    "DeploymentError",
    "ExecutionError",
    "ExpressionError",
    "Finding",
    "HandlerInputError",
    "HandlerTimeoutError",
    "HistoryEvent",
    "HistoryKind",
    "Incident",
    "Instance",
    "InstanceEndedError",
    "InstanceQuery",
    "InstanceStatus",
    "Job",
    "JobKind",
    "JobState",
    "KpiWindow",
    "NotFoundError",
    "ProcessDefinition",
    "ProcessKpis",
    "RegistryImportError",
    "Resource",
    "RetailflowError",
    "Role",
    "Severity",
    "SignalDeliveryError",
    "StepKpis",
    "StoreUnavailableError",
    "Subscription",
    "SubscriptionKind",
    "UserTask",
    "VariableMatch",
    "VariableTypeError",
]
