"""Plain data shared by every layer: what the engine stores, returns and reports."""

from __future__ import annotations

from retailflow.model.deployment import Deployment, ProcessDefinition, Resource
from retailflow.model.errors import (
    ConcurrentUpdateError,
    DeploymentError,
    ExpressionError,
    HandlerInputError,
    NotFoundError,
    RetailflowError,
    StoreUnavailableError,
    VariableTypeError,
)
from retailflow.model.finding import Finding, Severity
from retailflow.model.history import HistoryEvent, HistoryKind
from retailflow.model.instance import Instance, InstanceStatus
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
    "BufferedMessage",
    "ConcurrentUpdateError",
    "Deployment",
    "DeploymentError",
    "ExpressionError",
    "Finding",
    "HandlerInputError",
    "HistoryEvent",
    "HistoryKind",
    "Incident",
    "Instance",
    "InstanceStatus",
    "Job",
    "JobKind",
    "JobState",
    "KpiWindow",
    "NotFoundError",
    "ProcessDefinition",
    "ProcessKpis",
    "Resource",
    "RetailflowError",
    "Severity",
    "StepKpis",
    "StoreUnavailableError",
    "Subscription",
    "SubscriptionKind",
    "UserTask",
    "VariableTypeError",
]
