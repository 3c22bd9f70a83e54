"""``[tool.retailflow.validate]`` in ``pyproject.toml``: what a repository wants checked and how
strictly, so CI, pre-commit and a person at the terminal all run the same validation.

```toml
[tool.retailflow.validate]
paths = ["processes"]                      # what `retailflow validate` checks with no arguments
handlers = "shop.handlers:registry"        # turns on the diagram-against-code rules
fail-on = "error"                          # exit 1 at findings of this severity or worse
start-variables = ["order_id", "items"]    # what every instance is started with

[tool.retailflow.validate.rules]
label-required = "warning"                 # error | warning | info | off
no-overlapping-elements = "off"
```
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retailflow.model import ConfigError, Severity
from retailflow.validation.rules import RULES

_LEVELS: dict[str, Severity | None] = {
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,  # bpmnlint's spelling, so a .bpmnlintrc's values carry over
    "info": Severity.INFO,
    "off": None,
}
_KEYS = frozenset({"paths", "handlers", "fail-on", "start-variables", "rules"})


@dataclass(frozen=True, slots=True)
class ValidateConfig:
    """The settings of one validation run; the defaults are what an empty section means.

    ``rules`` maps a rule id to the severity it is reported at, ``None`` turning it off; rules
    not named keep their catalogue default. ``root`` is the directory relative ``paths`` start
    from (the ``pyproject.toml``'s).
    """

    paths: tuple[str, ...] = ("processes",)
    handlers: str | None = None
    fail_on: Severity = Severity.ERROR
    start_variables: frozenset[str] = frozenset()
    rules: Mapping[str, Severity | None] = field(default_factory=dict)
    root: Path = Path()

    def severity(self, rule_id: str, reported: Severity) -> Severity | None:
        """The severity a finding is shown at: configured, else the catalogue's default if the
        rule is off by default, else what the check reported."""
        if rule_id in self.rules:
            return self.rules[rule_id]
        rule = RULES.get(rule_id)
        if rule is not None and rule.severity is None:
            return None
        return reported

    def resolved_paths(self) -> list[str]:
        """``paths`` (relative to the configuration file) as seen from the current directory,
        so reports name files the way CI and code scanning expect: relative to the checkout."""
        return [
            path if Path(path).is_absolute() else os.path.relpath(self.root / path)
            for path in self.paths
        ]


def parse_level(text: str, *, where: str) -> Severity | None:
    """``error``, ``warning`` (or ``warn``), ``info`` or ``off``; ``ConfigError`` otherwise."""
    try:
        return _LEVELS[text.strip().lower()]
    except (KeyError, AttributeError):
        raise ConfigError(
            f"{where}: {text!r} is not a severity; use error, warning, info or off"
        ) from None


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` or a directory above it."""
    for directory in (start.resolve(), *start.resolve().parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(pyproject: Path | None) -> ValidateConfig:
    """The ``[tool.retailflow.validate]`` section of ``pyproject`` (defaults without one)."""
    if pyproject is None:
        return ValidateConfig()
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{pyproject}: cannot be read as TOML: {error}") from error
    section = document.get("tool", {}).get("retailflow", {}).get("validate", {})
    return config_from_table(section, pyproject)


def config_from_table(section: Mapping[str, Any], source: Path) -> ValidateConfig:
    """Check and convert a parsed section; every mistake names its key."""
    where = f"{source} [tool.retailflow.validate]"
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(sorted(_KEYS))}"
        )
    paths = _strings(section.get("paths", ["processes"]), f"{where} paths")
    handlers = section.get("handlers")
    if handlers is not None and (not isinstance(handlers, str) or ":" not in handlers):
        raise ConfigError(f"{where} handlers: write the registry as 'module:attribute'")
    fail_on = parse_level(section.get("fail-on", "error"), where=f"{where} fail-on")
    if fail_on is None:
        raise ConfigError(f"{where} fail-on: must be error, warning or info")
    rules = section.get("rules", {})
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{where} rules: must be a table of rule id = severity")
    levels: dict[str, Severity | None] = {}
    for rule_id, level in rules.items():
        if rule_id not in RULES:
            raise ConfigError(
                f"{where} rules: no rule is called {rule_id!r}; "
                "`retailflow validate --list-rules` lists them"
            )
        levels[rule_id] = parse_level(str(level), where=f"{where} rules.{rule_id}")
    return ValidateConfig(
        paths=tuple(paths),
        handlers=handlers,
        fail_on=fail_on,
        start_variables=frozenset(
            _strings(section.get("start-variables", []), f"{where} start-variables")
        ),
        rules=levels,
        root=source.parent,
    )


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ConfigError(f"{where}: must be a string or a list of strings")
