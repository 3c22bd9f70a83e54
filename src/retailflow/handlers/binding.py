"""RegisteredHandler: a function bound, once, to the process variables it reads and writes.

The binding follows pyzeebe: a parameter's name is the variable it reads, the return value is the
variables it writes. Everything that can be learnt from the signature is learnt at registration,
because ``invoke`` runs for every job and should do no more than look up and call.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import types
import typing
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from retailflow.handlers.context import HandlerContext
from retailflow.handlers.handler_loop import HandlerLoop
from retailflow.model import HandlerInputError, HandlerTimeoutError, RetailflowError
from retailflow.model.variables import is_variable_scalar

_SHOWN_INPUT_CHARS = 60


class RegisteredHandler:
    """A handler for one topic, with what its signature says it reads and writes.

    Parameters are bound in ``invoke`` like this:

    * annotated ``HandlerContext``: the job's context;
    * annotated with a pydantic model: ``Model.model_validate(variables)``, the whole variable
      mapping (the model's own config decides about extra keys). A handler has at most one model;
    * any other parameter: the variable of the same name, or the parameter's default;
    * ``**variables``: every variable that no named parameter took.

    Plain parameters are passed as they are, unchecked: a handler that needs its inputs validated
    (untrusted data, numbers from a form) takes a pydantic model. Positional-only parameters and
    ``*args`` have no variable name to bind, so registration refuses them.

    The return value becomes the variables the handler writes: ``None`` writes nothing, a pydantic
    model is dumped with its dates, times, decimals and other variable types kept as they are
    (what is none, an enum or a UUID, takes its JSON form), a mapping is copied, a dataclass goes
    through ``asdict``.

    ``async def`` handlers run to completion on ``loop``, the engine's ``HandlerLoop`` (one
    long-lived event loop, so what a handler keeps between calls, an ``httpx.AsyncClient``
    say, stays usable), so the engine's synchronous code calls every handler the same way.
    Without a ``loop`` (a handler called alone, in a test) ``asyncio.run`` gives the call a
    fresh loop of its own, which cannot start inside a running one: from async code, use
    ``await asyncio.to_thread(handler.invoke, variables, context)``.

    The introspection attributes serve static checks of diagrams against code:
    ``required_inputs`` and ``optional_inputs`` are variable names (a model field's alias when it
    has one); ``reads_all_variables`` says a ``**`` parameter takes whatever else there is;
    ``output_fields`` is what the return annotation promises (fields of a pydantic model, a
    TypedDict or a dataclass; empty for ``-> None``), or ``None`` when it does not say.
    ``retries`` and ``timeout`` (seconds) are the handler author's settings, ``None`` when unset;
    the engine applies them. ``signature`` is the function's signature with its annotations
    resolved, for tools that describe the handler (element templates).
    """

    __slots__ = (
        "_context_names",
        "_model_name",
        "_name",
        "_named",
        "_optional_names",
        "_required_names",
        "function",
        "input_model",
        "is_async",
        "optional_inputs",
        "output_fields",
        "reads_all_variables",
        "required_inputs",
        "retries",
        "signature",
        "timeout",
        "topic",
    )

    def __init__(
        self,
        topic: str,
        function: Callable[..., Any],
        *,
        retries: int | None = None,
        timeout: float | None = None,
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        """Inspect ``function`` once; ``namespace`` resolves annotations naming local types."""
        self.topic = topic
        self.function = function
        self._name = describe_function(function)
        self._check_settings(topic, retries, timeout)
        self.retries = retries
        self.timeout = timeout
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            self._refuse("is a generator; a handler returns its variables once, with return")
        # An object whose class has an async __call__ is as async as an async def function.
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            type(function).__call__
        )
        signature = self._signature(namespace)
        self.signature = signature

        required: list[str] = []
        optional: list[str] = []
        context_names: list[str] = []
        self.input_model: type[BaseModel] | None = None
        self._model_name: str | None = None
        self.reads_all_variables = False
        for parameter in signature.parameters.values():
            annotation = parameter.annotation
            if parameter.kind is parameter.VAR_KEYWORD:
                self.reads_all_variables = True
            elif parameter.kind in (parameter.VAR_POSITIONAL, parameter.POSITIONAL_ONLY):
                self._refuse(
                    f"has parameter '{parameter.name}' that cannot be passed by name; "
                    "handler parameters are bound by variable name, so make it a normal "
                    "parameter (or use **variables for all of them)"
                )
            elif isinstance(annotation, type) and issubclass(annotation, HandlerContext):
                context_names.append(parameter.name)
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                if self.input_model is not None:
                    self._refuse(
                        f"takes two pydantic models ('{self._model_name}' and "
                        f"'{parameter.name}'); both would read the same variables, so "
                        "combine their fields into one model"
                    )
                self.input_model, self._model_name = annotation, parameter.name
            elif parameter.default is parameter.empty:
                required.append(parameter.name)
            else:
                optional.append(parameter.name)
        self._required_names = tuple(required)
        self._optional_names = tuple(optional)
        self._context_names = tuple(context_names)
        self._named = frozenset(signature.parameters)

        model_required, model_optional = _model_inputs(self.input_model)
        self.required_inputs = frozenset(required) | model_required
        self.optional_inputs = (frozenset(optional) | model_optional) - self.required_inputs
        self.output_fields = _output_fields(signature.return_annotation)

    def invoke(
        self,
        variables: Mapping[str, Any],
        context: HandlerContext,
        *,
        loop: HandlerLoop | None = None,
    ) -> dict[str, Any]:
        """Call the handler with what it reads from ``variables``; return the variables it writes.
        An async handler runs on ``loop`` (see the class docstring).

        Raises ``HandlerInputError`` when the variables cannot satisfy the signature (retrying
        cannot help), and whatever the handler itself raises, ``BpmnError`` included, unchanged.
        """
        try:
            arguments = {name: variables[name] for name in self._required_names}
        except KeyError:
            raise self._missing_variables(variables) from None
        for name in self._optional_names:
            if name in variables:
                arguments[name] = variables[name]
        for name in self._context_names:
            arguments[name] = context
        if self._model_name is not None:
            arguments[self._model_name] = self._validate(variables)
        if self.reads_all_variables:
            self._add_remaining(arguments, variables)
        if self.is_async:
            result = self._run_async(arguments, loop)
        elif self.timeout is not None:
            result = self._run_with_timeout(arguments, self.timeout)
        else:
            result = self.function(**arguments)
        return self._written_variables(result)

    def __repr__(self) -> str:
        return f"<RegisteredHandler {self.topic!r}: {self._name}>"

    def _signature(self, namespace: Mapping[str, Any] | None) -> inspect.Signature:
        try:
            return inspect.signature(self.function, eval_str=True, locals=namespace)
        except (NameError, AttributeError, SyntaxError) as exc:
            self._refuse(
                f"has an annotation that cannot be resolved ({exc}); the types decide "
                "how variables are bound, so define them at module level (a type "
                "defined in a function is seen only by a registration in that function)"
            )
        except (TypeError, ValueError) as exc:
            self._refuse(
                f"has no signature to bind variables to ({exc}); register a Python function"
            )

    def _validate(self, variables: Mapping[str, Any]) -> BaseModel:
        model = self.input_model
        assert model is not None  # only called when the signature has a model
        try:
            return model.model_validate(variables)
        except ValidationError as exc:
            raise HandlerInputError(_validation_message(self.topic, model, exc)) from exc

    def _add_remaining(self, arguments: dict[str, Any], variables: Mapping[str, Any]) -> None:
        for key, value in variables.items():
            if key in self._named:
                continue
            if not isinstance(key, str):
                raise HandlerInputError(
                    f"handler '{self.topic}' takes **variables, but the "
                    f"process has a variable named {key!r}, which is not a "
                    "string; variable names must be strings"
                )
            arguments[key] = value

    def _run_with_timeout(self, arguments: dict[str, Any], timeout: float) -> Any:
        """The synchronous call, bounded by ``timeout`` seconds: it runs in a thread of its own
        and is abandoned when late (Python cannot stop a thread), so the job fails and is
        retried while the stray call may still finish."""
        outcome: list[Any] = []
        failure: list[BaseException] = []

        def call() -> None:
            try:
                outcome.append(self.function(**arguments))
            except BaseException as error:  # re-raised in the caller's thread
                failure.append(error)

        thread = threading.Thread(target=call, name=f"handler {self.topic}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise self._timed_out(timeout)
        if failure:
            raise failure[0]
        return outcome[0]

    def _timed_out(self, timeout: float) -> HandlerTimeoutError:
        return HandlerTimeoutError(
            f"handler '{self.topic}' ({self._name}) did not finish within its timeout of "
            f"{timeout:g} s; the job is retried (raise the timeout if the work needs longer)"
        )

    def _run_async(self, arguments: dict[str, Any], loop: HandlerLoop | None) -> Any:
        """The async call on ``loop`` (or a fresh one), cancelled when past its timeout."""
        import asyncio  # with the first async handler: most applications have none

        if loop is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                raise RetailflowError(
                    f"handler '{self.topic}' ({self._name}) is async, and invoke() without "
                    "a loop runs it with asyncio.run, which cannot start inside the event loop "
                    "already running here; call it from a thread: await "
                    "asyncio.to_thread(handler.invoke, variables, context)"
                )
        call = self.function(**arguments)
        if self.timeout is not None:
            call = self._bounded(call, self.timeout)
        return asyncio.run(call) if loop is None else loop.run(call)

    async def _bounded(self, call: Coroutine[Any, Any, Any], timeout: float) -> Any:
        """``call``, cancelled past ``timeout`` seconds; a ``TimeoutError`` of the handler's own
        (a deadline it set itself) is its failure, as it would be from a plain function."""
        import asyncio

        try:
            async with asyncio.timeout(timeout) as deadline:
                return await call
        except TimeoutError:
            if deadline.expired():
                raise self._timed_out(timeout) from None
            raise

    def _written_variables(self, result: Any) -> dict[str, Any]:
        if result is None:
            return {}
        if isinstance(result, dict):
            return dict(result)
        if isinstance(result, BaseModel):
            written: dict[str, Any] = _variable_form(
                result.model_dump(mode="python"), result.model_dump(mode="json")
            )
            return written
        if isinstance(result, Mapping):
            return dict(result)
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            return dataclasses.asdict(result)
        raise RetailflowError(
            f"handler '{self.topic}' ({self._name}) returned {type(result).__name__}; a handler "
            "must return a mapping, a pydantic model, a dataclass or None, because its return "
            "value is the variables it writes: return {'name': value} to write one"
        )

    def _missing_variables(self, variables: Mapping[str, Any]) -> HandlerInputError:
        missing = [name for name in self._required_names if name not in variables]
        names = ", ".join(f"'{name}'" for name in missing)
        plural = "s" if len(missing) > 1 else ""
        return HandlerInputError(
            f"handler '{self.topic}' needs variable{plural} {names}, which the process does not "
            "have at this task; set it before the task (or in the task's input mapping), or give "
            "the parameter a default"
        )

    def _refuse(self, problem: str) -> typing.NoReturn:
        raise RetailflowError(
            f"cannot register {self._name} for topic '{self.topic}': it {problem}"
        )

    def _check_settings(self, topic: str, retries: int | None, timeout: float | None) -> None:
        if not isinstance(topic, str) or not topic.strip():
            raise RetailflowError(
                f"cannot register {self._name}: the topic must be the task "
                f"type from the diagram, a non-empty string, got {topic!r}"
            )
        if retries is not None and (type(retries) is not int or retries < 1):
            self._refuse(
                f"was given retries={retries!r}; retries counts runs, the first one "
                "included, so it must be an int of at least 1"
            )
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
        ):
            self._refuse(
                f"was given timeout={timeout!r}; the timeout is a number of seconds greater than 0"
            )


def _variable_form(native: Any, jsonable: Any) -> Any:
    """A model's dump as variables: each value pydantic's Python mode gives that is a variable
    type (a date stays a date), else its JSON mode's form (an enum's value, a UUID's text)."""
    if type(native) is dict and all(type(key) is str for key in native):
        return {key: _variable_form(value, jsonable[key]) for key, value in native.items()}
    if type(native) in (list, tuple) and len(native) == len(jsonable):
        return [_variable_form(a, b) for a, b in zip(native, jsonable, strict=True)]
    return native if is_variable_scalar(native) else jsonable


def describe_function(function: Callable[..., Any]) -> str:
    """``module.qualname`` of a handler, the name error messages use to point at the code."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if qualname is None:
        return repr(function)
    return f"{module}.{qualname}" if module else qualname


def _model_inputs(model: type[BaseModel] | None) -> tuple[frozenset[str], frozenset[str]]:
    """The variable names a model reads, required and optional (aliases win, as in validation)."""
    if model is None:
        return frozenset(), frozenset()
    required: set[str] = set()
    optional: set[str] = set()
    for name, info in model.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        (required if info.is_required() else optional).add(alias or name)
    return frozenset(required), frozenset(optional)


def _output_fields(annotation: Any) -> frozenset[str] | None:
    """The variables a return annotation promises, or ``None`` when it does not say."""
    if annotation is None or annotation is type(None):
        return frozenset()
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        # ``Result | None`` writes Result's fields or nothing: Result's fields bound what it writes.
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _output_fields(members[0]) if len(members) == 1 else None
    if not isinstance(annotation, type):
        return None
    if issubclass(annotation, BaseModel):
        return frozenset(annotation.model_fields) | frozenset(annotation.model_computed_fields)
    if typing.is_typeddict(annotation):
        return frozenset(annotation.__annotations__)  # a TypedDict's, inherited keys included
    if dataclasses.is_dataclass(annotation):
        return frozenset(field.name for field in dataclasses.fields(annotation))
    return None


def _validation_message(topic: str, model: type[BaseModel], exc: ValidationError) -> str:
    """Say which variables were wrong and how, in the words of the process, not of pydantic."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(all variables)"
        if error["type"] == "missing":
            problems.append(f"'{where}' is missing")
        else:
            shown = repr(error["input"])
            if len(shown) > _SHOWN_INPUT_CHARS:
                shown = shown[:_SHOWN_INPUT_CHARS] + "..."
            problems.append(f"'{where}': {error['msg']} (got {shown})")
    return (
        f"handler '{topic}' cannot read its variables as {model.__name__}: "
        + "; ".join(problems)
        + "; fix the variables the process sets before this task, or the model"
    )
