"""Whatever variables a process holds, binding fails only with HandlerInputError.

The engine decides between retry, incident and error path by the exception type, so binding must
never leak a TypeError or a pydantic ValidationError of its own: an input problem is always
``HandlerInputError``, and anything else comes from the handler's own code.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from retailflow.handlers import BpmnError, HandlerContext, HandlerRegistry
from retailflow.model import HandlerInputError

CONTEXT = HandlerContext(
    instance_id="i",
    business_key=None,
    process_id="p",
    definition_id="p:1",
    element_id="e",
    job_id="j",
    topic="t",
    attempt=1,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
# Names the handlers below read turn up often, so the bound path is exercised, not only the
# missing-variable path; a non-string name now and then probes **variables.
known_names = st.sampled_from(["sku", "quantity", "warehouse", "ctx", "request", "order", "note"])
names = st.one_of(known_names, st.text(max_size=6), known_names, st.text(max_size=6), st.integers())
arbitrary = st.dictionaries(names, json_values, max_size=8)
# Half of the mappings start from a plausible order, so model validation also succeeds sometimes.
plausible_order = st.fixed_dictionaries(
    {"sku": st.text(max_size=5), "quantity": st.integers(min_value=-1, max_value=200)},
    optional={"warehouse": json_values, "note": st.none() | st.text(max_size=5)},
)
variable_mappings = arbitrary | st.builds(
    lambda extra, order: {**extra, **order}, arbitrary, plausible_order
)


class Order(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    note: str | None = None


class HandlerOwnError(Exception):
    """Raised only from inside handler bodies, to tell their exceptions apart from binding's."""


registry = HandlerRegistry()


@registry.handler("by_name")
def by_name(sku: Any, quantity: Any, warehouse: Any = "main") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "warehouse": warehouse}


@registry.handler("by_model")
def by_model(request: Order, ctx: HandlerContext) -> Order:
    return request


@registry.handler("everything")
def everything(sku: Any = None, **variables: Any) -> dict[str, Any]:
    return {"count": len(variables)}


@registry.handler("mixed")
def mixed(order: Order, warehouse: Any, *, note: Any = None, **rest: Any) -> None:
    if order.quantity > 100:
        raise BpmnError("TOO_LARGE")
    raise HandlerOwnError


@given(variable_mappings)
def test_binding_raises_nothing_but_handler_input_error(variables: dict[Any, Any]) -> None:
    for handler in registry:
        try:
            written = handler.invoke(variables, CONTEXT)
        except (HandlerInputError, BpmnError, HandlerOwnError):
            continue
        assert isinstance(written, dict)


@given(variable_mappings)
def test_a_handler_whose_inputs_are_present_is_called(variables: dict[Any, Any]) -> None:
    handler = registry.get("by_name")
    assert handler is not None
    if handler.required_inputs <= variables.keys():
        assert handler.invoke(variables, CONTEXT)["sku"] == variables["sku"]
