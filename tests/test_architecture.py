"""The shape of the code, as docs/architecture.md draws it: arrows between apps point one
way, every status change of an Upload lives in one module, every run is enqueued by one
function, and a backend's own libraries stay inside apps/warehouse. Read from the source
with `ast`, so imports placed inside functions count like any other."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("apps", "salesapp")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every name `module` imports (absolute, relative ones resolved), with its line."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base, node.lineno
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


def _project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _ in _imported(module, path):
            target = _project_module(name)
            if target and target != module and not target.startswith(module + "."):
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _app(module: str) -> str:
    return module.split(".")[1] if module.startswith("apps.") and module.count(".") else module.split(".")[0]


def _imports_of_app(app: str) -> set[tuple[str, str]]:
    """(importing module, imported module) pairs from `app` to other project packages."""
    return {
        (module, target)
        for module, targets in _graph().items()
        if module.startswith(f"apps.{app}.") or module == f"apps.{app}"
        for target in targets
        if _app(target) != app
    }


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_modules_of_apps_and_salesapp():
    assert _cycles(_graph()) == []


def test_etl_imports_nothing_from_uploads():
    assert {(m, t) for m, t in _imports_of_app("etl") if _app(t) == "uploads"} == set()


def test_accounts_is_the_ground_floor_and_imports_no_other_app():
    assert _imports_of_app("accounts") == set()


def test_the_pipeline_stages_are_pure():
    # No Django, no ORM, no storage, no warehouse: only other stages and the fact table's schema.
    allowed = ("apps.etl.pipeline", "apps.warehouse.fact")
    found = [
        (module, name, line)
        for module, path in MODULES.items()
        if module.startswith("apps.etl.pipeline")
        for name, line in _imported(module, path)
        if name.split(".")[0] == "django" or (name.startswith("apps.") and not name.startswith(allowed))
    ]
    assert found == []


def test_nothing_outside_the_warehouse_names_a_backends_own_library():
    found = [
        (module, name, line)
        for module, path in MODULES.items()
        if not module.startswith("apps.warehouse")
        for name, line in _imported(module, path)
        if name.split(".")[0] == "deltalake" or name.startswith("google.cloud")
    ]
    assert found == []


def _status_writes(path: Path) -> Iterator[int]:
    """Lines that write an upload's status: `.status = ...`, and status=... given to
    update(), create() or the Upload(...) constructor."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(t, ast.Attribute) and t.attr == "status":
                        yield node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            writes = name in ("update", "create", "Upload", "update_or_create", "get_or_create")
            if writes and any(k.arg == "status" for k in node.keywords):
                yield node.lineno


TRANSITIONS = "apps.uploads.transitions"


def test_the_status_finder_finds_each_kind_of_write(tmp_path):
    source = tmp_path / "writes.py"
    source.write_text(
        "upload.status = 'failed'\n"
        "upload.status, upload.stage = 'queued', ''\n"
        "Upload.objects.filter(pk=1).update(status='queued')\n"
        "Upload(shop=shop, status='duplicate')\n"
        "Upload.objects.filter(status='queued').count()\n"
    )
    assert list(_status_writes(source)) == [1, 2, 3, 4]


def test_every_status_change_of_an_upload_is_in_the_transitions_module():
    found = [
        (module, line) for module, path in MODULES.items() if module != TRANSITIONS for line in _status_writes(path)
    ]
    assert found == []


@pytest.mark.parametrize("call", ["delay", "apply_async", "send_task"])
def test_uploads_are_enqueued_by_one_function(call):
    found = [
        (module, node.lineno)
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == call
    ]
    # upload_enqueue in apps/uploads/tasks.py; nothing else hands work to a worker.
    assert {module for module, _ in found} <= {"apps.uploads.tasks"}
    assert len(found) <= 1


def _is_entry(module: str) -> bool:
    """Views, the API, the admin and management commands: where a person or a script comes in."""
    last = module.rsplit(".", 1)[-1]
    return (
        module.startswith("apps.api.")
        or ".management.commands." in module
        or last == "admin"
        or last.startswith("views")
        or last == "downloads"
    )


def test_entries_reach_an_uploads_run_only_through_its_services():
    inner = ("apps.uploads.run", "apps.uploads.tasks", "apps.uploads.transitions", "apps.uploads.sweep")
    found = sorted(
        (module, target) for module, targets in _graph().items() if _is_entry(module) for target in targets
        if target in inner
    )  # fmt: skip
    assert found == []
