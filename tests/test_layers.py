"""The rooms of ARCHITECTURE.md hold: import-linter's contracts (pyproject.toml, [tool.importlinter]) are kept, and
a wrong-way import breaks them."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` run in `root` (function-local imports count as much as module-level ones)."""
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: install the dev extra (pip install -e '.[dev]')"
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"], cwd=root, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_are_kept():
    # given the project as it is / when its import contracts are checked / then none is broken
    result = lint_imports(ROOT)
    assert result.returncode == 0, f"broken import contracts (ARCHITECTURE.md, Rooms):\n{result.stdout}{result.stderr}"


def test_a_wrong_way_import_breaks_them(tmp_path):
    # given a copy of the project where the training program imports tasks inside a function (a regular package:
    # the editable install adds the checkout's ledger/ and synth/ to the copy's namespace packages)
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    for package in packages["root_packages"]:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "training" / "head.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef _wrong_way():\n    from tasks.caching import STAGE\n\n    return STAGE\n")
    # when its contracts are checked / then both the layers and the no-prefect contracts name the import
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "training is not allowed to import tasks" in result.stdout
    assert "training is not allowed to import prefect" in result.stdout
    assert "training.head -> tasks.caching" in result.stdout


def test_architecture_md_lists_the_rooms_in_the_order_the_contract_enforces():
    import re

    # given ARCHITECTURE.md's table of rooms and the layers contract in pyproject.toml
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layers = next(c["layers"] for c in contracts["contracts"] if c["type"] == "layers")
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    rooms = re.findall(r"^\| `(\w+)/` \|", text, flags=re.M)
    # then the document says what the linter holds, top to bottom, and stays about one screen
    assert rooms == layers
    assert len(text.splitlines()) <= 50
