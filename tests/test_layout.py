"""The package's layout stays readable: no module over 500 lines, no import cycle (imports
inside functions count), and only the commands import the training loop."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reid"
MAX_LINES = 500
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The reid modules ``name`` imports anywhere in its file, with the packages whose
    ``__init__`` that runs (except its own parents, which are loaded before it anyway)."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            if target.split(".")[0] != "reid":
                continue
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in known and not name.startswith(prefix + ".") and prefix != name:
                    found.add(prefix)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_module_is_over_500_lines():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules along their seams: {long}"


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """The functions of a file over ``limit`` lines, from ``def`` (or its decorators) to the
    last line, docstring included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if (length := node.end_lineno - first + 1) > limit:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_over_60_lines():
    """A function of one job reads in one screen: split longer ones by what their parts do."""
    long = [f for path in sorted(PACKAGE.rglob("*.py")) for f in long_functions(path)]
    assert not long, "split these functions by what their parts do:\n" + "\n".join(long)


def test_the_length_check_counts_decorators_and_docstrings(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(58))
    (tmp_path / "m.py").write_text(f'@decorator\ndef f():\n    """Doc."""\n{body}\n')  # 61 lines in all
    assert [f.split()[1] for f in long_functions(tmp_path / "m.py")] == ["f"]
    (tmp_path / "m.py").write_text(f'def f():\n    """Doc."""\n{body}\n')  # 60 lines
    assert long_functions(tmp_path / "m.py") == []


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_function_local_imports_are_in_the_graph():
    graph = import_graph()
    assert "reid.train" in graph["reid.commands"]  # imported inside the train command
    assert "reid.rerank" in graph["reid.evaluate"]  # imported inside evaluate_checkpoint


def test_only_the_commands_import_the_training_loop():
    importers = {name for name, deps in import_graph().items() if "reid.train" in deps}
    # the device script (reid.bench.gpu_check) trains, as the CLI does, to run the CUDA paths
    assert importers <= {"reid.commands", "reid.bench.train_bench", "reid.bench.gpu_check"}, importers
