"""Checksums of Korean registration numbers, card numbers and business numbers, over many numbers at once (numpy).

Each takes digit strings (separators removed) and says which pass; a string of the wrong length never does.
"""

import numpy as np
import pandas as pd

REGISTRATION_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])
BUSINESS_WEIGHTS = np.array([1, 3, 7, 1, 3, 7, 1, 3, 5])


def digit_matrix(digits: pd.Series, length: int) -> np.ndarray:
    """Digit strings of one length as an (n, length) array of ints."""
    if not len(digits):
        return np.zeros((0, length), dtype=np.int64)
    raw = np.frombuffer("".join(digits.tolist()).encode("ascii"), dtype=np.uint8)
    return raw.reshape(len(digits), length).astype(np.int64) - 48


def _of_length(digits: pd.Series, length: int) -> tuple[pd.Series, np.ndarray]:
    fits = (digits.str.len() == length) & digits.str.fullmatch(r"\d+")
    fits = fits.fillna(False).astype("bool")
    return fits, digit_matrix(digits[fits], length)


def _registration(digits: pd.Series, base: int, genders: list[int]) -> pd.Series:
    """YYMMDD-GNNNNNC with a real month and day, an allowed gender digit and (base - weighted sum mod 11) mod 10."""
    fits, d = _of_length(digits, 13)
    total = d[:, :12] @ REGISTRATION_WEIGHTS
    month, day = d[:, 2] * 10 + d[:, 3], d[:, 4] * 10 + d[:, 5]
    ok = ((base - total % 11) % 10 == d[:, 12]) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    ok &= np.isin(d[:, 6], genders)
    out = pd.Series(False, index=digits.index)
    out[fits] = ok
    return out


def rrn(digits: pd.Series) -> pd.Series:
    """주민등록번호: (11 - sum mod 11) mod 10; gender digit 1-4 (born 1900-2099) or 9, 0 (1800s)."""
    return _registration(digits, 11, [1, 2, 3, 4, 9, 0])


def foreigner_rn(digits: pd.Series) -> pd.Series:
    """외국인등록번호: (13 - sum mod 11) mod 10; gender digit 5-8."""
    return _registration(digits, 13, [5, 6, 7, 8])


def luhn(digits: pd.Series) -> pd.Series:
    """Card numbers: from the right, every second digit doubled (minus 9 above 9); the sum ends in 0."""
    out = pd.Series(False, index=digits.index)
    lengths = digits.str.len()
    for length in lengths.dropna().unique():
        fits, d = _of_length(digits, int(length))
        backwards = d[:, ::-1]
        doubled = backwards[:, 1::2] * 2
        total = backwards[:, ::2].sum(axis=1) + (doubled - 9 * (doubled > 9)).sum(axis=1)
        out[fits] = total % 10 == 0
    return out


def business_no(digits: pd.Series) -> pd.Series:
    """사업자등록번호: weights 1,3,7,1,3,7,1,3,5 plus the 9th digit x 5 // 10; the check digit makes it 0 mod 10."""
    fits, d = _of_length(digits, 10)
    total = d[:, :9] @ BUSINESS_WEIGHTS + (d[:, 8] * 5) // 10
    out = pd.Series(False, index=digits.index)
    out[fits] = (10 - total % 10) % 10 == d[:, 9]
    return out


def brn_sole_proprietor(digits: pd.Series) -> pd.Series:
    """A valid 사업자등록번호 whose 구분코드 (4th-5th digits) is a 개인사업자's: 01-79 (과세) or 90-99 (면세)."""
    valid = business_no(digits)
    code = pd.to_numeric(digits.str.slice(3, 5), errors="coerce")
    return valid & (code.between(1, 79) | code.between(90, 99)).fillna(False).astype("bool")


CHECKS = {"rrn": rrn, "foreigner_rn": foreigner_rn, "luhn": luhn, "brn_sole_proprietor": brn_sole_proprietor}
