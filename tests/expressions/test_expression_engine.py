"""The expression engine picks the dialect from the text and keeps what it compiled."""

from __future__ import annotations

import pytest

from retailflow.expressions import Dialect, ExpressionEngine, detect_dialect
from retailflow.model import ExpressionError


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("=amount > 100", Dialect.PYTHON, Dialect.FEEL),
        ("  = amount", Dialect.PYTHON, Dialect.FEEL),
        ("${amount > 100}", Dialect.PYTHON, Dialect.JUEL),
        ("#{amount > 100}", Dialect.FEEL, Dialect.JUEL),
        ("amount > 100", Dialect.PYTHON, Dialect.PYTHON),
        ("amount > 100", Dialect.FEEL, Dialect.FEEL),
    ],
)
def test_dialect_is_read_from_the_prefix_modeler_writes(
    text: str, default: Dialect, expected: Dialect
) -> None:
    assert detect_dialect(text, default) is expected


def test_the_same_condition_in_three_dialects_agrees() -> None:
    engine = ExpressionEngine()
    for text in ("=amount > 100", "${amount > 100}", "amount > 100"):
        assert engine.evaluate(text, {"amount": 150}) is True
        assert engine.evaluate(text, {"amount": 50}) is False


def test_default_dialect_applies_to_unprefixed_text() -> None:
    engine = ExpressionEngine(default_dialect=Dialect.FEEL)
    assert engine.evaluate('tier = "gold"', {"tier": "gold"}) is True


def test_explicit_dialect_wins_over_the_default() -> None:
    engine = ExpressionEngine(default_dialect=Dialect.PYTHON)
    assert engine.evaluate('tier = "gold"', {"tier": "gold"}, dialect=Dialect.FEEL) is True


def test_check_refuses_what_would_not_run_and_accepts_what_would() -> None:
    engine = ExpressionEngine()
    engine.check("=amount > 100")
    engine.check("${amount > 100}")
    engine.check("amount > 100")
    for broken in ("=amount >", "${amount >", "amount >", "__import__('os')"):
        with pytest.raises(ExpressionError) as raised:
            engine.check(broken, element_id="Flow_1")
        assert raised.value.element_id == "Flow_1"
        assert raised.value.expression == broken
