"""Scripts and conditions written to escape the Python sandbox or to exhaust the worker.

Each must end in retailflow's ``ExpressionError`` carrying the sandbox's own refusal: not a
result (a leak), and not "out of memory" (the worker survived only because this test caps its
memory). The cap turns a regression into a failing test instead of a dead shared machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import ExpressionError

resource = pytest.importorskip("resource")

_HEADROOM = 1 << 30
"""Memory a hostile case may take beyond what the test process already holds."""


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine(default_dialect=Dialect.PYTHON, script_timeout=1.0)


@pytest.fixture(autouse=True)
def capped_memory() -> Iterator[None]:
    """Run each case with at most ``_HEADROOM`` more address space than the process has now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm", encoding="ascii") as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    cap = in_use + _HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


CLASS_METHODS = [
    # Methods taken from the class skipped every check made on the instance's methods.
    ("x = str.format('{0.__globals__}', range)", r"format field \{0.__globals__\} reaches into"),
    ("x = str.format('{0.__class__.__mro__}', 1)", r"format field \{0.__class__.__mro__\}"),
    ("x = str.format_map('{x.__class__}', {'x': 1})", r"format field \{x.__class__\}"),
    ("x = '{0.__class__}'.format(1)", r"format field \{0.__class__\}"),
    ("x = '{0[0]}'.format([range])", r"format field \{0\[0\]\}"),
    ("x = '{0:{1}}'.format(1, 10**9)", "format width above"),
    ("x = '{0:>10000000000}'.format(1)", "format width above"),
    ("x = str.zfill('1', 3 * 10**9)", r"str.zfill\(\) of 3000000000 items"),
    ("x = str.ljust('1', 3 * 10**9)", r"str.ljust\(\) of 3000000000 items"),
    ("x = str.center('1', 10**10, '*')", r"str.center\(\)"),
    ("x = str.join('', ('a' * 10**6 for i in range(10**4)))", r"str.join\(\)"),
    ("x = str.replace('a' * 10**6, '', 'b' * 10**6)", r"str.replace\(\)"),
    ("x = str.expandtabs('\\t' * 10**6, 10**4)", r"str.expandtabs\(\)"),
    ("x = str.translate('a', {97: 'b' * 10**7})", r"str.translate\(\) is refused"),
    ("a = [0] * 10**6\nlist.extend(a, a)", r"list.extend\(\) of 2000000 items"),
    ("a = [0]\nlist.extend(a, (0 for i in range(10**6)))", r"list.extend\(\)"),
    ("x = str.zfill(1, 5)", r"str.zfill\(\) needs a str, not a int"),
    ("x = b'1'.zfill(10**10)", r"bytes.zfill\(\)"),
    ("x = (1).to_bytes(10**10, 'big')", r"int.to_bytes\(\)"),
    ("x = int.from_bytes(b'\\xff' * 10**7, 'big')", "digits would exceed"),
]

INTROSPECTION = [
    ("g = (i for i in [1])\nf = g.gi_frame", "access to attribute 'gi_frame' is refused"),
    ("x = type.__subclasses__(object)", "access to attribute '__subclasses__' is refused"),
    ("x = vars()", "name 'vars' is not defined"),
    ("x = getattr(1, '__cla' + 'ss__')", "name 'getattr' is not defined"),
    ("x = __builtins__", "name '__builtins__' is not allowed"),
    ("x = globals()", "name 'globals' is not defined"),
    ("x = str.__mod__('%s', 1)", "access to attribute '__mod__' is refused"),
    ("x = sorted.__self__", "access to attribute '__self__' is refused"),
    ("try:\n    1 / 0\nexcept Exception as e:\n    x = e.__traceback__", "'__traceback__'"),
]

SIZE_BOMBS = [
    ("x = 'a' * 10**10", "repetition of 10000000000 items"),
    ("x = [0] * 10**10", "repetition of 10000000000 items"),
    ("x = b'a' * 10**10", "repetition of 10000000000 items"),
    ("x = (0,) * 10**10", "repetition of 10000000000 items"),
    ("x = [[[0] * 1000] * 1000] * 1000", "repetition would build a value printing to about"),
    ("x = range(10**12)", r"range\(\) of 1000000000000 items"),
    ("x = pow(10, 10**9)", "name 'pow' is not defined"),
    ("x = 10 ** 10 ** 9", "digits would exceed"),
    ("x = int('9' * 10**6)", r"int\(\) of a text of 1000000 items"),
    ("x = int(Decimal('1e999999'))", r"int\(\) would build an integer of 1000000 digits"),
    ("x = round(Decimal('1e999999'))", r"round\(\) would build an integer"),
    ("x = '%d' % Decimal('1e999999')", "%-formatting a Decimal would build an integer"),
    ("x = Decimal('1e999999').as_integer_ratio()", r"as_integer_ratio\(\) would build"),
    ("x = f'{1:>10000000000}'", "format width above"),
    ("w = 10**9\nx = f'{1:{w}}'", "format specification computed at run time"),
    ("x = f'{Decimal(\"1e99999999\"):f}'", "an f-string field would be larger"),
    ("x = '{:f}'.format(Decimal('1e99999999'))", "a format field would be larger"),
    ("a = [0] * 10**6\nx = f'{[a, a, a, a, a]!r}'", "an f-string field would be larger"),
    ("a = [0] * 10**6\nx = '%s' % ([a, a, a, a, a],)", "a %-formatted value would be larger"),
    ("a = [0] * 10**6\nx = len(str([a, a, a, a, a]))", r"str\(\) would be larger"),
    ("a = [0] * 10**6\nx = '{}'.format([a, a, a, a, a])", "a format field would be larger"),
    ("a = [0] * 10**6\nb = [a] * 20", "repetition would build a value"),
    (
        "a = [0] * 10**6\nb = [a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a]",
        "the script's variable 'b' would be larger",
    ),
    ("x = dict.fromkeys(range(10**6), [0] * 100)", "the script's variable 'x' would be larger"),
]


@pytest.mark.parametrize(
    ("script", "reason"), CLASS_METHODS + INTROSPECTION + SIZE_BOMBS, ids=lambda case: case
)
def test_hostile_script_is_refused_by_the_sandbox(
    engine: ExpressionEngine, script: str, reason: str
) -> None:
    with pytest.raises(ExpressionError, match=reason) as raised:
        engine.run_script(script, {}, element_id="Script_Hostile")
    assert raised.value.element_id == "Script_Hostile"


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ("len(str([[0] * 10**6] * 10**6)) > 0", "repetition would build a value"),
        ("len(str([items, items, items, items, items])) > 0", r"str\(\) would be larger"),
        ("int(Decimal('1e999999')) > 0", r"int\(\) would build an integer"),
        ("str.format('{0.__globals__}', range) != ''", r"format field \{0.__globals__\}"),
        ("len(str.zfill('1', 3 * 10**9)) > 0", r"str.zfill\(\)"),
    ],
)
def test_hostile_condition_is_refused_by_the_sandbox(
    engine: ExpressionEngine, condition: str, reason: str
) -> None:
    with pytest.raises(ExpressionError, match=reason):
        engine.evaluate(condition, {"items": [0] * 10**6}, element_id="Flow_Hostile")


def test_format_with_plain_fields_still_works(engine: ExpressionEngine) -> None:
    variables = {"order": "SO-1", "total": 12.5, "lines": [1, 2]}
    assert engine.evaluate("'{} costs {:.2f}'.format(order, total)", variables) == (
        "SO-1 costs 12.50"
    )
    assert engine.evaluate("'{o}/{n!r}'.format_map({'o': order, 'n': lines})", variables) == (
        "SO-1/[1, 2]"
    )
    assert engine.evaluate("str.format('{0:>6}', order)", variables) == "  SO-1"
    assert engine.evaluate("str.zfill(order, 6) + str.upper('x')", variables) == "00SO-1X"
    assert engine.evaluate("int.from_bytes(b'\\x01\\x00', 'big') + int('42')", variables) == 298
    assert engine.evaluate("str(lines) + f'{total:>6}'", variables) == "[1, 2]  12.5"
