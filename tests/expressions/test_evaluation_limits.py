"""Every evaluation the engine runs (condition, mapping, script; Python, FEEL, JUEL) is bounded in
size and time: what it builds, what it hands back, and how long its calls run together."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retailflow.expressions import Dialect, ExpressionEngine
from retailflow.model import ExpressionError

resource = pytest.importorskip("resource")


@pytest.fixture(scope="module")
def engine() -> ExpressionEngine:
    return ExpressionEngine(default_dialect=Dialect.PYTHON, script_timeout=0.3)


@pytest.fixture(autouse=True)
def capped_memory() -> Iterator[None]:
    """A regression fails with MemoryError here instead of exhausting the shared machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm", encoding="ascii") as statm:
        cap = int(statm.read().split()[0]) * resource.getpagesize() + (1 << 30)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard < 0 else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


MILLION = {"items": [0] * 10**6}


def test_a_script_cannot_build_a_billion_item_value_out_of_shared_lists(
    engine: ExpressionEngine,
) -> None:
    with pytest.raises(ExpressionError, match="repetition would build a value") as raised:
        engine.run_script("c = [[[0] * 1000] * 1000] * 1000", {}, element_id="Script_Bomb")
    assert raised.value.element_id == "Script_Bomb"


def test_shared_lists_within_the_limit_still_come_back_whole(engine: ExpressionEngine) -> None:
    result = engine.run_script("grid = [[0] * 100] * 100\nrows = len(grid)", {})
    assert result == {"grid": [[0] * 100] * 100, "rows": 100}


def test_a_condition_cannot_render_a_huge_value(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="repetition would build a value"):
        engine.evaluate("len(str([[0] * 10**6] * 10**6)) > 0", {})
    with pytest.raises(ExpressionError, match=r"str\(\) would be larger"):
        engine.evaluate("len(str([items] + [items] + [items] + [items])) > 0", MILLION)


@pytest.mark.parametrize(
    "text",
    ["int(Decimal('1e999999')) > 0", "round(Decimal('1e999999')) > 0", "int(d) > 0"],
)
def test_a_decimal_cannot_become_a_million_digit_integer(
    engine: ExpressionEngine, text: str
) -> None:
    from decimal import Decimal

    with pytest.raises(ExpressionError, match="would build an integer of 1000000 digits"):
        engine.evaluate(text, {"d": Decimal("1e999999")})


@pytest.mark.parametrize(
    "text",
    [
        "=for i in 1..1000 return items",
        "[items, items, items, items, items, items, items, items, items, items, items, items,"
        " items, items, items, items, items, items, items]",
    ],
)
def test_an_expression_value_too_large_to_store_is_refused(
    engine: ExpressionEngine, text: str
) -> None:
    # FEEL's budget refuses as it builds; a Python value is sized once evaluated.
    with pytest.raises(
        ExpressionError, match=r"the expression's value would be larger|more than 1000000 items"
    ) as raised:
        engine.evaluate(text, MILLION, element_id="Activity_Map")
    assert raised.value.element_id == "Activity_Map"


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("b = [items for i in range(10**5)]\nc = max(b)", "a comprehension's result"),
        ("b = []\nfor i in range(10**4):\n    b.append(items)\nc = max(b)", r"input of max\(\)"),
        ("b = []\nfor i in range(10**4):\n    b.append(items)\nb.sort()", r"whose sort\(\)"),
        ("b = []\nfor i in range(10**4):\n    b.append(items)\nc = sorted(b)", "sorted"),
        ("b = []\nfor i in range(10**4):\n    b.append(items)\nc = list(items) in b", "compared"),
        (
            "copy = list(items)\nb, d = [], []\nfor i in range(10**4):\n"
            "    b.append(items)\n    d.append(copy)\nc = b == d",
            "compared",
        ),
    ],
)
def test_comparing_many_references_to_one_large_list_is_refused(
    engine: ExpressionEngine, script: str, reason: str
) -> None:
    # max() of 10**4 references to one million-item list compares 10**10 items in one C call.
    with pytest.raises(ExpressionError, match=reason):
        engine.run_script(script, MILLION)


@pytest.mark.parametrize(
    "text", ["[[0] * 10**6 for i in range(10**6)]", ", ".join(["[0] * 10**6"] * 40)]
)
def test_one_evaluation_cannot_build_more_than_its_allowance_in_all(text: str) -> None:
    # Every step is within the per-step limits; together they would take gigabytes. A generous
    # time limit, so that the allowance and not the clock ends it.
    engine = ExpressionEngine(default_dialect=Dialect.PYTHON, script_timeout=60.0)
    with pytest.raises(ExpressionError, match="builds more than 256 MB in all"):
        engine.evaluate(text, {})


SPENT = "spent = []\nfor i in range(30):\n    spent.append([0] * 10**6)\n"
"""Most of the allowance (240 MB), so that an unbounded loop adding small items reaches the rest
in a fraction of a second."""


@pytest.mark.parametrize(
    "script",
    [
        "x = len([tuple(range(1000)) for i in range(10**6)])",
        "x = len([list(range(1000)) for i in range(10**6)])",
        "x = len([sorted(range(1000)) for i in range(10**6)])",
        "x = len([set(range(1000)) for i in range(10**6)])",
        "x = len([dict(enumerate(range(1000))) for i in range(10**6)])",
        "x = len([[j for j in range(1000)] for i in range(10**6)])",
        "x = len({i: [j for j in range(100)] for i in range(10**6)})",
        "b = []\nfor i in range(10**6):\n    b.append(tuple(range(1000)))",
        "b = []\nfor i in range(10**6):\n    b += [tuple(range(1000))]",
        SPENT + "b, i = [], 0\nwhile True:\n    b.append(i)\n    i += 1",
        SPENT + "b, i = [], 0\nwhile True:\n    b.insert(len(b), i)\n    i += 1",
        SPENT + "s, i = set(), 0\nwhile True:\n    s.add(i)\n    i += 1",
        SPENT + "d, i = {}, 0\nwhile True:\n    d[i] = i\n    i += 1",
    ],
)
def test_items_a_loop_adds_one_by_one_count_against_the_allowance(script: str) -> None:
    # Each row, item or copy is small; a million of them took 1.8 GB within the time limit. The
    # memory cap (capped_memory) turns a regression into a MemoryError instead of a swapping
    # machine; the generous time limit makes the allowance, not the clock, end the script.
    engine = ExpressionEngine(default_dialect=Dialect.PYTHON, script_timeout=60.0)
    with pytest.raises(ExpressionError, match="builds more than 256 MB in all"):
        engine.run_script(script, {})


def test_copies_and_comprehensions_of_a_large_list_stay_within_the_allowance() -> None:
    engine = ExpressionEngine(default_dialect=Dialect.PYTHON, script_timeout=60.0)
    script = (
        "doubled = [x * 2 for x in items]\ncopy = list(items)\nranked = sorted(items)\n"
        "unique = set(items)\nfirst = tuple(items)[0]"
    )
    result = engine.run_script(script, MILLION)
    assert (len(result["doubled"]), len(result["copy"]), len(result["ranked"])) == (10**6,) * 3
    assert (result["unique"], result["first"]) == ({0}, 0)


def test_a_loop_building_and_dropping_small_rows_stays_within_its_allowance(
    engine: ExpressionEngine,
) -> None:
    result = engine.run_script("for i in range(1000):\n    row = [0] * 1000\ntotal = len(row)", {})
    assert result["total"] == 1000


def test_text_cannot_grow_without_end_by_converting_it_again_and_again(
    engine: ExpressionEngine,
) -> None:
    script = "s = 'x' * 10**6\nwhile True:\n    s = s.encode('utf-32').hex()"
    with pytest.raises(ExpressionError, match=r"str.encode\(\) of \d+ items|bytes.hex\(\)"):
        engine.run_script(script, {})


def test_many_calls_in_one_loop_free_expression_share_the_time_limit(
    engine: ExpressionEngine,
) -> None:
    # Each sorted() is bounded; three thousand of them are not, without the budget.
    condition = " and ".join(["sorted(items)"] * 3000)
    with pytest.raises(ExpressionError, match=r"expression exceeded its 0\.3 s time limit"):
        engine.evaluate(condition, MILLION)


def test_an_exception_carrying_a_huge_value_is_reported_without_rendering_it(
    engine: ExpressionEngine,
) -> None:
    with pytest.raises(ExpressionError, match="a message too large to show"):
        engine.run_script("raise ValueError([items] * 40)", {"items": list(range(10**5))})
