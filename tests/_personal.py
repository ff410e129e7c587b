"""Test helpers for personal data: valid (and one-digit-off) numbers of each kind, a ledger seeded with them, and a
search for raw values in every file, decoded where a plain byte search would miss them (Parquet, gzip, zip)."""

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.checksums import BUSINESS_WEIGHTS, REGISTRATION_WEIGHTS

NAMES = ["홍길동", "성춘향", "이몽룡", "변학도", "임꺽정", "장길산", "전우치", "박문수"]


def registration_no(rng: np.random.Generator, foreigner: bool = False) -> str:
    """A 주민등록번호 (or 외국인등록번호) that passes its checksum: YYMMDD-GNNNNNC."""
    front = f"{rng.integers(60, 99):02d}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    body = [int(c) for c in front] + [int(rng.choice([5, 6] if foreigner else [1, 2, 3, 4]))]
    body += [int(d) for d in rng.integers(0, 10, 5)]
    total = int(np.dot(body, REGISTRATION_WEIGHTS))
    check = ((13 if foreigner else 11) - total % 11) % 10
    digits = "".join(map(str, body)) + str(check)
    return f"{digits[:6]}-{digits[6:]}"


def card_no(rng: np.random.Generator) -> str:
    """A 16-digit card number that passes the Luhn check, as 4-4-4-4."""
    digits = [int(rng.choice([4, 5, 9]))] + [int(d) for d in rng.integers(0, 10, 14)]
    for check in range(10):
        backwards = (digits + [check])[::-1]
        doubled = [d * 2 - 9 if d * 2 > 9 else d * 2 for d in backwards[1::2]]
        if (sum(backwards[::2]) + sum(doubled)) % 10 == 0:
            text = "".join(map(str, digits + [check]))
            return "-".join(text[i : i + 4] for i in range(0, 16, 4))
    raise AssertionError("unreachable: one check digit always fits")


def business_no(rng: np.random.Generator, code: int) -> str:
    """A 사업자등록번호 that passes its checksum, with the given 구분코드 (81: a company, 01-79: a sole proprietor)."""
    body = [int(d) for d in f"{rng.integers(101, 999)}{code:02d}"] + [int(d) for d in rng.integers(0, 10, 4)]
    total = int(np.dot(body, BUSINESS_WEIGHTS)) + (body[8] * 5) // 10
    digits = "".join(map(str, body)) + str((10 - total % 10) % 10)
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def off_by_one(number: str) -> str:
    """The same number with its last digit changed: looks valid, fails the checksum."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def account_no(rng: np.random.Generator) -> str:
    return f"110-{rng.integers(100, 999)}-{rng.integers(100000, 999999)}"


def phone_no(rng: np.random.Generator) -> str:
    return f"010-{rng.integers(2000, 9999)}-{rng.integers(1000, 9999)}"


def email(rng: np.random.Generator) -> str:
    return f"user{rng.integers(10000, 99999)}@example.co.kr"


def seed_personal_data(ledger: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, dict[str, list[str]], list[str]]:
    """The ledger with dedicated columns (주민등록번호, 카드번호, 계좌번호, 연락처, 이메일, 이용자) and, on every
    fourth row, one of each kind in the 적요; returns it, the raw values by kind and checksum-failing lookalikes."""
    rng = np.random.default_rng(seed)
    n = len(ledger)
    values = {
        "rrn": [registration_no(rng) for _ in range(n)],
        "foreigner_rn": [registration_no(rng, foreigner=True) for _ in range(n)],
        "card": [card_no(rng) for _ in range(n)],
        "account": [account_no(rng) for _ in range(n)],
        "phone": [phone_no(rng) for _ in range(n)],
        "email": [email(rng) for _ in range(n)],
        "name": [NAMES[i % len(NAMES)] for i in range(n)],
    }
    out = ledger.copy()
    out["주민등록번호"] = values["rrn"]
    out["카드번호"] = values["card"]
    out["계좌번호"] = values["account"]
    out["연락처"] = values["phone"]
    out["이메일"] = values["email"]
    out["이용자"] = values["name"]
    kinds = ["rrn", "foreigner_rn", "card", "account", "phone", "email", "name"]
    lookalikes = [off_by_one(registration_no(rng)) for _ in range(3)] + [off_by_one(card_no(rng)) for _ in range(3)]
    for i in range(0, n, 4):
        kind = kinds[(i // 4) % len(kinds)]
        out.loc[i, "적요"] = f"{out.loc[i, '적요']} {values[kind][i]}"
    for i, fake in enumerate(lookalikes):
        out.loc[2 + 4 * i, "적요"] = f"{out.loc[2 + 4 * i, '적요']} 참조 {fake}"
    return out, values, lookalikes


def needles(values: list[str]) -> list[tuple[str, bytes]]:
    """Each raw value as UTF-8 and CP949 bytes, numbers also as bare digits."""
    forms = set()
    for value in values:
        forms.add(value)
        digits = "".join(c for c in value if c.isdigit())
        if len(digits) >= 10 and "@" not in value:
            forms.add(digits)
    return [(v, v.encode(encoding)) for v in sorted(forms) for encoding in ("utf-8", "cp949")]


def readable(path: Path) -> Iterator[bytes]:
    """A file's bytes, and its contents decoded where compression or encoding would hide a value."""
    data = path.read_bytes()
    yield data
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield pq.read_table(path).to_pandas().to_csv().encode("utf-8")
    elif data[:2] == b"\x1f\x8b":
        yield gzip.decompress(data)
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield archive.read(name)


def leaks(roots: list[Path], values: list[str], skip: set[Path] = frozenset()) -> list[str]:
    """'path: value' for every raw value found in any file under the roots."""
    wanted = needles(values)
    found = []
    for root in roots:
        for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and p not in skip):
            for blob in readable(path):
                found += [f"{path}: {value}" for value, needle in wanted if needle in blob]
    return sorted(set(found))


def text_leaks(texts: list[str], values: list[str]) -> list[str]:
    """The raw values found in these texts (log lines, artifacts, MLflow params)."""
    forms = {v for v, _ in needles(values)}
    return sorted({f"{value} in {text[:80]!r}" for text in texts for value in forms if value in text})
