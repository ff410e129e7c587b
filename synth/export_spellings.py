"""Export shapes whose headers are spelled the way real exports spell them, one family of conf header_rules each:
numbering, spaces and parentheses (a CSV), suffixes, prefixes and endings (an xlsx), a 간편장부 whose two-row
header has numbered, parenthesized parents (① 수입(원) / 비용 (지출) over 금액 / 부가세), and two headers that fit one
column equally loosely (적요란 and 비고란), which the reader must refuse rather than guess between."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from synth.export_books import _amount_cells, _workbook, book_sheet
from synth.export_common import PERIOD_YEAR, Recorder, company, csv_bytes, money, write_bytes

# ①, "2.", "(3)", "4)" numbering; a space inside a word; a parenthesized unit or note
NUMBERED_HEADER = ["① 거래 일자", "2. 전표 번호", "(3) 차대 구분", "4) 거래처(상호)", "⑤ 적 요", "금액(원)",
                   "공급가 액", "부가세 (원)", "계정 코드", "계정과목"]  # fmt: skip
# 이용일시 (ending 일시 as 일자), 상호명 / 과목명 (suffix 명), 적요란 (suffix 란), 총금액 (prefix 총),
# 공급액 (ending 액 as 금액), 부가세금액 (suffix 금액)
SUFFIXED_HEADER = ["이용일시", "전표번호", "차대구분", "상호명", "적요란", "총금액", "공급액", "부가세금액", "계정코드",
                   "과목명"]  # fmt: skip
BOOK_TOP = ["거래 일자", "적요란", "거래처 명", "① 수입(원)", None, "비용 (지출)", None, "증빙", "계정코드"]
BOOK_SUB = [None, None, None, "금액", "부가세", "금액", "부가세", None, None]
# 적요란 and 비고란 both read as description by suffix 란; the line that settles it, as the error names it
COMPETING_HEADER = ["일자", "적요란", "비고란", "거래처", "금액", "차대구분", "계정코드"]
COMPETING_SETTLED = {"적요란": "description"}


def numbered_headers(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """A plain journal as CSV (UTF-8 with BOM) under numbered, spaced and parenthesized headers."""
    rec = Recorder()
    rows = [NUMBERED_HEADER]
    for r in lines.to_dict("records"):
        rows.append([r["일자"], r["전표번호"], r["차대구분"], r["거래처"], r["적요"], money(r["amt"]), r["공급가액"],
                     r["부가세"], r["계정코드"], r["계정과목"]])  # fmt: skip
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    write_bytes(path, b"\xef\xbb\xbf" + csv_bytes(rows, "utf-8"))
    return rec


def suffixed_headers(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """A card-style journal (xlsx) whose headers carry suffixes, a prefix and other endings; 이용일시 as date-time
    cells, a title row above."""
    rec, wb = Recorder(), _workbook()
    ws = wb.active
    ws.title = "이용내역"
    ws.append([f"{company(rng)} 이용내역 ({PERIOD_YEAR}년)"])
    ws.append(SUFFIXED_HEADER)
    times = rng.integers(8 * 3600, 19 * 3600, len(lines))
    for i, r in enumerate(lines.to_dict("records")):
        at = dt.datetime.fromisoformat(r["일자"]) + dt.timedelta(seconds=int(times[i]))
        ws.append([at, r["전표번호"], r["차대구분"], r["거래처"], r["적요"], r["amt"],
                   int(r["공급가액"]) if r["공급가액"] else None, int(r["부가세"]) if r["부가세"] else None,
                   r["계정코드"], r["계정과목"]])  # fmt: skip
        ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd hh:mm"
        _amount_cells(ws, ws.max_row, range(6, 9))
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    wb.save(path)
    return rec


def income_expense_book(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """국세청 간편장부 (xlsx) whose two-row header has the parents ① 수입(원) and 비용 (지출), each over 금액 / 부가세
    (merged), and spaced or suffixed headers over both rows; a 대변 line is income (입금), a 차변 line an expense."""
    rec, (wb, ws) = Recorder(), book_sheet(rng, BOOK_TOP, BOOK_SUB)
    for r in lines.to_dict("records"):
        vat = int(r["부가세"]) if r["부가세"] else None
        income = r["차대구분"] == "대변"
        amounts = [r["amt"], vat, None, None] if income else [None, None, r["amt"], vat]
        day = dt.datetime.fromisoformat(r["일자"])
        ws.append([day, r["적요"], r["거래처"], *amounts, r["증빙구분"], r["계정코드"]])
        ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd"
        _amount_cells(ws, ws.max_row, range(4, 8))
        rec.line(r["일자"], r["amt"], "입금" if income else "출금", r["계정코드"], r["거래처"], r["적요"])
    wb.save(path)
    return rec


def competing_headers(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """A CSV (UTF-8) with 적요란 and 비고란 (the 증빙 noted there): both fit description only by suffix 란, so reading
    it is an error until ingest.columns says which one it is (COMPETING_SETTLED); the truth is the file so settled."""
    rec = Recorder()
    rows = [COMPETING_HEADER]
    for r in lines.to_dict("records"):
        rows.append([r["일자"], r["적요"], r["증빙구분"], r["거래처"], money(r["amt"]), r["차대구분"], r["계정코드"]])
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    write_bytes(path, csv_bytes(rows, "utf-8"))
    return rec
