"""A tokenized dataset folder (datasets/tokenized-<key>/): its manifest, written by prepare_data, read by
train_model and by the prediction flow (which replays the same data steps with the saved parameters)."""

from pathlib import Path

from pydantic import BaseModel

from ledger.errors import InputNotFound
from ledger.frames import OutputPath
from ledger.work_store import DATASET_MANIFEST_FILE, is_store_url, localize, portable, pull

MANIFEST_FILE = DATASET_MANIFEST_FILE
PREPARE_PARAMS_FILE = "prepare_params.json"


class SetAside(BaseModel):
    """The suspected mis-postings of a dataset (prepare_data's find_mispostings): how many, what training did with
    the train split's, and where each split's suspected lines are, so calibration and the threshold can leave them
    out (positions into the split as stored)."""

    lines: int  # labelled lines judged
    suspected: int
    train_rows: str  # exclude | keep | relabel
    excluded: int = 0  # train lines left out of training
    relabelled: int = 0  # train lines trained on with the suggested code
    positions: dict[str, list[int]] = {}
    table: str | None = None  # the suspects table (parquet; the xlsx beside it)

    def mask(self, split: str, rows: int):
        """A boolean array over the split's rows: True where the line is suspected."""
        import numpy as np

        out = np.zeros(rows, dtype=bool)
        out[[p for p in self.positions.get(split, []) if p < rows]] = True
        return out


class TokenizedDataset(BaseModel):
    """A tokenized DatasetDict on disk with its label map and the tokenizer it was made with."""

    path: OutputPath
    label_map: OutputPath
    tokenizer: OutputPath
    num_labels: int
    rows: dict[str, int]
    pad_token: str
    pad_added: bool
    stats: dict
    mispostings: SetAside | None = None  # None: not looked for (or a dataset made before they were)

    @property
    def folder(self) -> Path:
        return Path(self.path).parent

    def write_manifest(self) -> Path:
        path = self.folder / MANIFEST_FILE
        # paths in a shared store's host cache are written as store URLs: any host reads the same dataset
        path.write_text(portable(self).model_dump_json(indent=2), encoding="utf-8")
        return path


def read_tokenized_dataset(folder: str | Path) -> TokenizedDataset:
    """The manifest of a tokenized dataset folder (or of its data/ subfolder)."""
    folder = pull(folder) if is_store_url(folder) else Path(folder)
    manifest = folder / MANIFEST_FILE if (folder / MANIFEST_FILE).exists() else folder.parent / MANIFEST_FILE
    if not manifest.exists():
        raise InputNotFound(
            f"{folder}: not a tokenized dataset folder (no {MANIFEST_FILE}); run prepare_data with a model first"
        )
    return localize(TokenizedDataset.model_validate_json(manifest.read_text(encoding="utf-8")))
