"""label_map.json: account code <-> classifier head slot, written by the split stage, read by training and predict."""

from pathlib import Path

import numpy as np
from pydantic import BaseModel

LABEL_MAP_FILE = "label_map.json"


class LabelSlot(BaseModel):
    id: int
    code: str
    name: str


class LabelMap(BaseModel):
    """Head slots: the used ones carry an account code; the free ones a dummy name and are never predicted."""

    num_slots: int
    dummy_prefix: str
    labels: list[LabelSlot]

    @classmethod
    def read(cls, path: str | Path) -> "LabelMap":
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    def id2label(self) -> list[str]:
        """Slot names in id order: the code for a used slot, a dummy name for a free one."""
        names = [f"{self.dummy_prefix}{i}" for i in range(self.num_slots)]
        for slot in self.labels:
            names[slot.id] = slot.code
        return names

    def code_to_id(self) -> dict[str, int]:
        return {slot.code: slot.id for slot in self.labels}

    def used_ids(self) -> list[int]:
        return [slot.id for slot in self.labels]

    def used_mask(self) -> np.ndarray:
        """True at every slot that carries a code (the only ones a prediction may pick)."""
        mask = np.zeros(self.num_slots, dtype=bool)
        mask[self.used_ids()] = True
        return mask

    def by_id(self) -> dict[int, LabelSlot]:
        return {slot.id: slot for slot in self.labels}
