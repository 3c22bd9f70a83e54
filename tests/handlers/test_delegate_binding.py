"""Which registered handler a Camunda 7 delegate binds to, and aliases given at registration."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retailflow import HandlerRegistry
from retailflow.handlers.delegates import delegate_names
from retailflow.model import RetailflowError


def reserve() -> None:
    """A handler."""


def audit() -> None:
    """Another handler."""


@pytest.mark.parametrize(
    ("attribute", "value", "names"),
    [
        (
            "class",
            "com.acme.inventory.ReserveStock",
            ("com.acme.inventory.ReserveStock", "ReserveStock", "reserveStock"),
        ),
        ("class", "ReserveStock", ("ReserveStock", "reserveStock")),
        (
            "class",
            "com.acme.Outer$ReserveStock",
            ("com.acme.Outer$ReserveStock", "ReserveStock", "reserveStock"),
        ),
        ("delegateExpression", "${reserveStock}", ("reserveStock",)),
        ("delegateExpression", "#{ beans.reserveStock }", ("beans.reserveStock",)),
        ("delegateExpression", "${factory.create('x')}", ()),
        ("expression", "${inventory.reserve(execution)}", ("inventory.reserve",)),
        ("expression", "${inventory.reserve(execution, quantity)}", ("inventory.reserve",)),
        ("expression", "${inventoryService.reserve()}", ("inventoryService.reserve",)),
        ("expression", "${quantity > 2}", ()),
    ],
)
def test_a_delegate_looks_for_its_class_simple_and_bean_names_or_its_bean_method(
    attribute: str, value: str, names: tuple[str, ...]
) -> None:
    assert delegate_names(attribute, value) == names


def test_a_class_delegate_binds_to_the_first_registered_of_its_names() -> None:
    handlers = HandlerRegistry()
    handlers.register("reserveStock", reserve)
    handlers.register("ReserveStock", audit)

    bound = handlers.delegate("class", "com.acme.ReserveStock")

    assert bound is not None and bound.function is audit


def test_an_alias_is_another_name_of_the_same_handler() -> None:
    handlers = HandlerRegistry()

    @handlers.handler("inventory.reserve", aliases=["com.acme.legacy.StockBean", "stockBean"])
    def reserve_stock() -> None: ...

    registered = handlers.get("inventory.reserve")
    assert registered is not None
    assert handlers.get("stockBean") is registered
    assert handlers.delegate("class", "com.acme.legacy.StockBean") is registered
    assert handlers.delegate("delegateExpression", "${stockBean}") is registered
    assert "stockBean" in handlers
    assert handlers.topics() == ["inventory.reserve"]
    assert handlers.aliases("inventory.reserve") == ["com.acme.legacy.StockBean", "stockBean"]


def test_an_alias_that_another_handler_holds_is_refused_naming_both() -> None:
    handlers = HandlerRegistry()
    handlers.register("reserveStock", reserve)

    with pytest.raises(RetailflowError, match=r"'reserveStock' is already handled by .*reserve"):
        handlers.register("inventory.audit", audit, aliases=["reserveStock"])
    assert handlers.topics() == ["reserveStock"]


def test_include_brings_aliases_along_and_refuses_an_alias_clash() -> None:
    shared = HandlerRegistry()
    shared.register("inventory.reserve", reserve, aliases=["reserveStock"])
    app = HandlerRegistry()
    app.include(shared)
    assert app.delegate("delegateExpression", "${reserveStock}") is shared.get("reserveStock")

    other = HandlerRegistry()
    other.register("reserveStock", audit)
    with pytest.raises(RetailflowError, match="cannot include the registry"):
        other.include(shared)


_JAVA_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)


@given(packages=st.lists(_JAVA_NAME.map(str.lower), max_size=4), simple=_JAVA_NAME)
def test_a_class_name_always_offers_itself_its_simple_name_and_the_bean_name_last(
    packages: list[str], simple: str
) -> None:
    written = ".".join([*packages, simple])

    names = delegate_names("class", written)

    assert names[0] == written
    assert simple in names
    assert names[-1] == simple[0].lower() + simple[1:]
    assert len(names) == len(set(names))


@given(
    path=st.lists(_JAVA_NAME, min_size=1, max_size=3),
    arguments=st.sampled_from(["", "execution", "execution, quantity", "task, 'x'"]),
)
def test_an_expression_delegate_binds_to_its_method_path_whatever_its_arguments(
    path: list[str], arguments: str
) -> None:
    written = ".".join(path)

    assert delegate_names("expression", f"${{{written}({arguments})}}") == (written,)
    assert delegate_names("delegateExpression", f"${{{written}}}") == (written,)
