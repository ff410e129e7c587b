"""A model folder read from a bucket or a registry must not run code when it is loaded: account-tax writes only
safetensors, JSON, YAML and numpy arrays read without pickle, so a pickle in one is refused before anything in the
folder is opened. No prefect."""

from pathlib import Path

from ledger.errors import ExpectedError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".cloudpickle")
PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")  # pickle protocols 2-5 open with these
# formats whose readers never unpickle (a safetensors header may start with the same two bytes as a pickle)
SAFE_SUFFIXES = (".safetensors", ".json", ".yaml", ".yml", ".npz", ".parquet", ".txt", ".md", ".png", ".csv", ".py")


class UnsafeModelError(ExpectedError, ValueError):
    """A model folder that holds something which would run code when loaded."""

    hint = "use a model folder account-tax wrote (train again, or register the run again); never load this one"


def check_no_pickles(folder: str | Path) -> None:
    """UnsafeModelError naming the first file of the folder that is a pickle, by its name or by its first bytes."""
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix in SAFE_SUFFIXES:
            continue
        with path.open("rb") as handle:
            head = handle.read(2)
        if suffix in PICKLE_SUFFIXES or head in PICKLE_MAGIC:
            raise UnsafeModelError(
                f"{path}: a pickle inside the model folder (it would run code when loaded); account-tax models hold "
                "only safetensors, JSON, YAML and numpy arrays: use a model folder account-tax wrote, or train again"
            )
