"""What restricted Python may say, decided on the syntax tree before anything runs.

RestrictedPython already routes attribute, item and iteration access through guard functions and
refuses names starting with ``_``. This policy adds retailflow's rules: no imports, classes or
``print``; clearer refusal messages; every f-string field checked before it is rendered; the
size-multiplying operators (``+ * ** << %``) rewritten into calls to the guards in
``python_guards`` so that ``10**10**10`` is refused instead of hanging the worker; a
``_tick_()`` time-budget check wherever code can repeat and before every call (a thousand calls
of ``sorted`` on a large list are each bounded, but not together); and every comprehension's
result, and each side of a comparison between two computed values, sized before it is used
(``[big for i in range(10**5)]`` holds 10**5 references to one list, and one ``max()`` or ``in``
over it compares 10**5 copies of it in a single C call).
"""

from __future__ import annotations

import ast
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

from retailflow.expressions.limits import MAX_FORMAT_WIDTH
from retailflow.expressions.python_format import exceeds_format_width

GUARDED_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}
"""Binary operators whose result can be far larger than their operands, and their guards."""

REFUSED_ATTRIBUTES = INSPECT_ATTRIBUTES | {"mro"}
"""Frames, code objects, and ``mro`` (it reaches ``BaseException`` and ``object``)."""

_LOOPS = (
    ast.For,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.Lambda,
    ast.FunctionDef,
)


_UNBUDGETED_STEPS = 8
"""Calls and size-multiplying operators an expression without loops may run without a budget:
each is bounded by the size guards, and a few of them take no longer (nor build more) than the
single call a budget cannot interrupt. A budget costs about 0.8 us per evaluation, more than a
simple condition itself."""


def needs_budget(tree: ast.AST) -> bool:
    """Whether the code can run longer, or build more, than a few bounded steps (it loops, or
    calls or multiplies many times): only then is it worth a time budget and a build allowance.
    ``len(lines) > 2`` is not."""
    steps = 0
    for node in ast.walk(tree):
        if isinstance(node, _LOOPS):
            return True
        steps += isinstance(node, ast.Call) or (
            isinstance(node, ast.BinOp) and type(node.op) in GUARDED_OPERATORS
        )
    return steps > _UNBUDGETED_STEPS


def _tick(node: ast.AST) -> ast.Expr:
    """``_tick_()``: the time budget's check, put where code can repeat (see time_budget)."""
    call = ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[])
    return ast.fix_missing_locations(ast.copy_location(ast.Expr(call), node))


def _is_scalar_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and not isinstance(node.value, tuple)


def _guarded(guard: str, node: ast.expr) -> ast.Call:
    """``guard(node)``: a call of one of the guards, in place of ``node``."""
    call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node], keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, node))


def _building(node: ast.ListComp | ast.SetComp | ast.DictComp) -> ast.expr:
    """The comprehension with its innermost loop iterating through ``_builditer_`` instead of
    ``_getiter_``: each of its items adds one to the result, charged to the build allowance as
    it is added (see time_budget). A generator expression builds nothing and is left alone."""
    innermost = node.generators[-1].iter
    assert isinstance(innermost, ast.Call) and isinstance(innermost.func, ast.Name)
    if innermost.func.id == "_getiter_":  # for x in _getiter_(items)
        innermost.func.id = "_builditer_"
    else:  # for k, v in _iter_unpack_sequence_(items, spec, _getiter_)
        innermost.args[0] = _guarded("_builditer_", innermost.args[0])
    return node


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy with retailflow's additions (see the module docstring)."""

    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is not None and name.startswith("_"):
            self.error(node, f"name {name!r} is not allowed")
            return
        super().check_name(node, name, allow_magic_methods)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in ("print", "printed"):
            self.error(node, "print() is not available; set a variable instead")
            return node
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_") or node.attr in REFUSED_ATTRIBUTES:
            self.error(node, f"access to attribute {node.attr!r} is refused")
            return node
        return super().visit_Attribute(node)

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, "import statements are not allowed")
        return node

    def visit_While(self, node: ast.While) -> Any:
        node = super().visit_While(node)
        node.body.insert(0, _tick(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        node.body = ast.copy_location(
            ast.BoolOp(op=ast.Or(), values=[_tick(node).value, node.body]), node.body
        )
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        node = super().visit_Call(node)
        # (_tick_() or f)(...): the check runs before the callee is looked up and called.
        node.func = ast.copy_location(
            ast.BoolOp(op=ast.Or(), values=[_tick(node).value, node.func]), node.func
        )
        return node

    def visit_ListComp(self, node: ast.ListComp) -> Any:
        return _guarded("_built_", _building(super().visit_ListComp(node)))

    def visit_SetComp(self, node: ast.SetComp) -> Any:
        return _guarded("_built_", _building(super().visit_SetComp(node)))

    def visit_DictComp(self, node: ast.DictComp) -> Any:
        return _guarded("_built_", _building(super().visit_DictComp(node)))

    def visit_Compare(self, node: ast.Compare) -> Any:
        node = self.node_contents_visit(node)
        operands = [node.left, *node.comparators]
        if any(_is_scalar_literal(operand) for operand in operands):
            return node  # amount > 100, tier == 'gold': bounded by the literal, and the hot path
        node.left = _guarded("_compared_", node.left)
        node.comparators = [_guarded("_compared_", operand) for operand in node.comparators]
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = GUARDED_OPERATORS.get(type(node.op))
        if guard is None:
            return node
        function = ast.copy_location(ast.Name(guard, ast.Load()), node)
        call = ast.Call(func=function, args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(part, ast.Constant) for part in parts):
                self.error(node, "a format specification computed at run time is not allowed")
            elif any(exceeds_format_width(str(part.value)) for part in parts):
                self.error(node, f"a format width above {MAX_FORMAT_WIDTH} is refused")
        node = self.node_contents_visit(node)
        # f'{x}' renders x in one C call: check its printed size first (python_format.rendered).
        node.value = _guarded("_rendered_", node.value)
        return node
