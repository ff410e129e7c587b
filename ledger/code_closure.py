"""Which project files a module runs: its imports, followed through the project's own packages.

Prefect's TASK_SOURCE hashes only a task's own body and misses the helpers it calls; hashing whole folders
re-runs every stage on any change. A task's cache key covers the import closure of its module instead.
"""

import ast
import functools
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contracts", "flows", "ledger", "monitor", "params", "schemas", "scoring", "synth", "tasks", "training")


def module_path(name: str, root: Path = ROOT) -> Path | None:
    """The file of a project module ('tasks.split' -> tasks/split.py), or None when it is not one."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions ('from a import b' adds a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _parents(name: str) -> list[str]:
    """'tasks.split' -> ['tasks', 'tasks.split']: importing a module runs its package's __init__ first."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def code_closure(start: Path, root: Path = ROOT) -> list[Path]:
    """The start file and every project file it imports, directly or through others, sorted."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            for module in _parents(name):
                found = module_path(module, root)
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(seen)


@functools.lru_cache(maxsize=128)
def code_fingerprint(start: str, root: str = str(ROOT)) -> str:
    """sha256 over the relative names and bytes of the import closure of `start` (one value per process)."""
    digest = hashlib.sha256()
    for path in code_closure(Path(start), Path(root)):
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
