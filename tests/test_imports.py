"""The package's import graph: no cycle, and no module imports one that comes later in the pipeline.

Every `bon_lit/*.py` is parsed with `ast` (nothing is imported); an edge A -> B is any import of B in A, at module
level or inside a function (`import bon_lit.B`, `from bon_lit.B import x`, `from bon_lit import B`, `from .B import x`,
`importlib.import_module("bon_lit.B")`). The pipeline order is the order of the notebooks the modules are exported
from (`00_schema` < `00a_simulate` < `01_grade` < ... < `10_cli`); `cli` may import anything."""
import ast, re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "bon_lit"
SKIP = {"__init__", "_modidx"}

# Backward imports that remain on purpose, each with its reason. Keep this list short.
ALLOWED_BACKWARD = {
    # prompt templates and stop strings (`render_prompt`, `PROMPT_TEMPLATES`, `STOP_SEQUENCES`) are defined with the
    # task generators in 08_tasks; the sampler renders every prompt with them. `tasks` imports only `schema` and
    # `grade`, so there is no cycle; the fix is to number the tasks notebook before 06_sampling (a docs-wide rename).
    ("sampling", "tasks"),
    # the post-training recipes train on the worked-solution prompts of 08_tasks (`make_worked_prompts`); same fix.
    ("posttrain", "tasks"),
}


def _notebook(path: Path) -> str:
    m = re.search(r"File to edit: \.\./nbs/(\S+)\.ipynb", path.read_text()[:2000])
    assert m, f"{path.name}: no 'File to edit' header (every module is exported from a notebook)"
    return m.group(1)


def _order(nb: str) -> tuple:
    "Sort key of a notebook name: `06d_sglang` -> (6, 'd')."
    m = re.match(r"(\d+)([a-z]*)_", nb)
    assert m, nb
    return int(m.group(1)), m.group(2)


def _imports(path: Path, modules: set) -> set:
    "The bon_lit modules `path` imports, anywhere in the file."
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level: mod = "bon_lit" + ("." + mod if mod else "")
            names = [f"{mod}.{a.name}" for a in node.names] if mod == "bon_lit" else [mod]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for n in names:
            parts = n.split(".")
            if parts[0] == "bon_lit" and len(parts) > 1 and parts[1] in modules: out.add(parts[1])
    return out - {path.stem}


def graph() -> tuple[dict, dict]:
    files = {p.stem: p for p in sorted(PKG.glob("*.py")) if p.stem not in SKIP}
    return {m: _imports(p, set(files)) for m, p in files.items()}, {m: _notebook(p) for m, p in files.items()}


def _cycle(g: dict) -> list | None:
    "One cycle of the directed graph g, or None."
    state, stack = {}, []
    def visit(u):
        state[u] = "open"; stack.append(u)
        for v in sorted(g[u]):
            if state.get(v) == "open": return stack[stack.index(v):] + [v]
            if v not in state and (c := visit(v)): return c
        state[u] = "done"; stack.pop()
        return None
    for u in sorted(g):
        if u not in state and (c := visit(u)): return c
    return None


def test_parser_sees_imports():
    "The parser finds module-level, function-level and relative imports (a regression check of the test itself)."
    g, nb = graph()
    assert "cli" in nb and nb["cli"] == "10_cli" and "sampling" in g["sglang"]
    assert {"report", "sampling", "sglang", "grade"} <= g["cli"]          # function-level imports
    assert "schema" in g["sampling"]                                      # a relative module-level import


def test_pipeline_and_suite_modules():
    "The pipeline computes, the report renders it; loading the shipped suite imports no sampling stack (the build does)."
    g, nb = graph()
    assert _order(nb["suite"]) < _order(nb["suite_build"]) < _order(nb["pipeline"]) < _order(nb["report"])
    assert "pipeline" in g["report"] and "report" not in g["pipeline"]
    assert g["suite"] <= {"schema", "simulate", "tasks"}, g["suite"]
    assert {"sampling", "cpu", "grade", "reward", "suite"} <= g["suite_build"]


def test_no_import_cycle():
    g, _ = graph()
    c = _cycle(g)
    assert c is None, f"import cycle: {' -> '.join(c)}"


def test_no_backward_import():
    g, nb = graph()
    back = sorted((a, b) for a, deps in g.items() for b in deps
                  if a != "cli" and _order(nb[b]) > _order(nb[a]) and (a, b) not in ALLOWED_BACKWARD)
    assert not back, "modules importing a later stage: " + ", ".join(f"{a} ({nb[a]}) -> {b} ({nb[b]})" for a, b in back)


def test_allowed_exceptions_are_still_needed():
    "An allowed backward import that no longer exists must leave the list."
    g, nb = graph()
    for a, b in ALLOWED_BACKWARD:
        assert b in g[a] and _order(nb[b]) > _order(nb[a]), f"{a} -> {b} is no longer a backward import: remove it"


def test_no_argparse_outside_cli():
    "All command-line code lives in `cli`."
    for p in sorted(PKG.glob("*.py")):
        if p.stem in SKIP | {"cli"}: continue
        assert not re.search(r"\bargparse\b|\badd_cli\b", p.read_text()), f"{p.name}: command-line code outside bon_lit/cli.py"
