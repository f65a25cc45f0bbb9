"""The shape the code promises: no import circles in backend/, modules under the size limit, corpus SQL in the store."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
MAX_LINES = 420  # "under ~400 lines": a little slack, never a 700-line hub again
CORPUS_SQL = re.compile(
    r"\b(FROM|JOIN|INTO|UPDATE|DELETE\s+FROM)\s+(collections|documents|document_versions|chunks|ingest_runs|ingest_files)\b",
)  # SQL keywords are upper case here; prose "from documents" is not SQL


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """The backend modules a module imports, at the top or inside functions (a lazy import is still an edge)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != "backend":
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in BACKEND.rglob("*.py")}
    known = set(files)
    return {name: _imports(path, known) - {name} for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_backend_has_no_import_cycles():
    graph = import_graph()
    assert "backend.platform" in graph and "backend.chat.service" in graph["backend.platform"]
    assert find_cycles(graph) == []


def test_the_backend_never_imports_streamlit():
    """The UI stays out of the backend: pages, components and the server entry point (components/asgi.py) import it."""
    graph_files = list(BACKEND.rglob("*.py"))
    importing = [str(p.relative_to(ROOT)) for p in graph_files
                 if re.search(r"^\s*(import streamlit|from streamlit)", p.read_text(), re.MULTILINE)]
    assert importing == []


def test_no_backend_module_is_over_the_size_limit():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in BACKEND.rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > MAX_LINES} == {}


def test_corpus_sql_lives_only_in_the_store():
    places = []
    for folder in ("backend", "components", "pages"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(BACKEND / "store"):
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if CORPUS_SQL.search(line) and ('"' in line or "'" in line):
                    places.append(f"{path.relative_to(ROOT)}:{number}")
    assert places == []
