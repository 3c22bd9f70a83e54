"""``retailflow validate`` as a library: every rule over a set of process files, configured
from ``pyproject.toml``, reported for people or for CI.

The runtime checks are the deployment's own (``engine.deployer.check_sources``); this package
adds bpmnlint's modelling rules, the diagram (BPMN DI) rules and the diagram-against-code rules,
the rule catalogue with its severities, and the output formats.
"""

from __future__ import annotations

from retailflow.validation.config import (
    ConfigError,
    ValidateConfig,
    find_pyproject,
    load_config,
    parse_level,
)
from retailflow.validation.linter import validate
from retailflow.validation.report import Diagnostic, ValidationReport
from retailflow.validation.rules import RULES, Category, Rule

__all__ = [
    "RULES",
    "Category",
    "ConfigError",
    "Diagnostic",
    "Rule",
    "ValidateConfig",
    "ValidationReport",
    "find_pyproject",
    "load_config",
    "parse_level",
    "validate",
]
