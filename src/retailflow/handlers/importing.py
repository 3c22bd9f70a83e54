"""Finding the application's ``HandlerRegistry`` from a ``module:attribute`` string, as uvicorn
finds an app: workers run the registry the application really runs, and the diagram-against-code
rules of ``retailflow validate`` check it."""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path

from retailflow.handlers.registry import HandlerRegistry
from retailflow.model import RegistryImportError


def import_registry(spec: str, search_paths: Sequence[Path]) -> HandlerRegistry:
    """The registry ``spec`` names: ``module:attribute`` where the attribute (dotted for nested
    ones) is a ``HandlerRegistry`` or a function that takes no arguments and returns one.

    ``search_paths`` (the current directory, the project root) go first on ``sys.path``, so a
    module of the project imports without being installed. ``RegistryImportError`` says what
    went wrong.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise RegistryImportError(
            f"--handlers {spec!r}: write it as 'module:attribute', e.g. 'shop.handlers:registry'"
        )
    for path in reversed(search_paths):
        root = str(path.resolve())
        if root not in sys.path:
            sys.path.insert(0, root)
    try:
        target: object = importlib.import_module(module_name)
    except Exception as error:  # the application's own import error, whatever it is
        raise RegistryImportError(
            f"--handlers {spec!r}: cannot import {module_name}: {type(error).__name__}: {error}"
        ) from error
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise RegistryImportError(
                f"--handlers {spec!r}: {module_name} has no attribute {attribute!r}"
            )
        target = getattr(target, part)
    if callable(target) and not isinstance(target, HandlerRegistry):
        target = _call_factory(spec, target)
    if not isinstance(target, HandlerRegistry):
        raise RegistryImportError(
            f"--handlers {spec!r}: is a {type(target).__name__}, not a "
            "HandlerRegistry (or a function returning one)"
        )
    return target


def _call_factory(spec: str, factory: object) -> object:
    try:
        inspect.signature(factory).bind()  # type: ignore[arg-type]
    except TypeError:
        raise RegistryImportError(
            f"--handlers {spec!r}: the function needs arguments; point at a "
            "registry, or at a function that builds one without any"
        ) from None
    except ValueError:
        pass  # no signature to inspect (a builtin): just try it
    try:
        return factory()  # type: ignore[operator]
    except Exception as error:
        raise RegistryImportError(
            f"--handlers {spec!r}: building the registry failed: {type(error).__name__}: {error}"
        ) from error
