"""Two more export shapes: 세무사랑 계정별원장 (xlsx: `계정과목 : 0813 접대비` block rows, real date cells, 전월이월)
and a 경리나라-style 수입지출 list (tab-separated .txt, cp949, one signed amount, compact dates, no side column)."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import numpy as np
import pandas as pd

from synth.export_books import _amount_cells, _workbook, account_months
from synth.export_common import PERIOD_YEAR, Recorder, company, money, write_bytes

SEMUSARANG_HEADER = ["일자", "적요", "거래처", "차변", "대변", "잔액"]
SIGNED_HEADER = ["날짜", "거래처", "내용", "거래금액", "계정코드"]


def semusarang_ledger(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """세무사랑 계정별원장: per account a `계정과목 : 0813 접대비` row (4-digit code, leading zero), a 전월이월 row,
    its lines with 일자 as real date cells, then 월계 and 누계 rows per month. Labels come from the block rows."""
    rec, wb = Recorder(), _workbook()
    ws = wb.active
    ws.title = "계정별원장"
    ws.append([f"{company(rng)} 계정별원장"])
    ws.append([f"{PERIOD_YEAR}년 01월 01일 ~ {PERIOD_YEAR}년 12월 31일"])
    ws.append(SEMUSARANG_HEADER)
    ordered = lines.sort_values("계정코드", kind="stable").to_dict("records")
    for code, block in groupby(ordered, key=lambda r: r["계정코드"]):
        block = list(block)
        written = "0" + code
        ws.append([f"계정과목 : {written} {block[0]['계정과목']}"])
        rec.reject("account_block")
        balance = int(rng.integers(0, 100)) * 10_000
        ws.append([None, "전월이월", None, balance, None, balance])
        _amount_cells(ws, ws.max_row, range(4, 7))
        rec.reject("summary_row")
        total_dr = total_cr = 0
        for month, month_dr, month_cr in account_months(block, balance):
            for r, dr, cr, balance in month:
                ws.append([dt.datetime.fromisoformat(r["일자"]), r["적요"], r["거래처"], dr, cr, balance])
                ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd"
                _amount_cells(ws, ws.max_row, range(4, 7))
                rec.line(r["일자"], r["amt"], r["차대구분"], written, r["거래처"], r["적요"])
            total_dr, total_cr = total_dr + month_dr, total_cr + month_cr
            ws.append([None, "월       계", None, month_dr, month_cr, None])
            ws.append([None, "누       계", None, total_dr, total_cr, None])
            rec.reject("summary_row", 2)
    wb.save(path)
    return rec


def signed_tsv(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """수입지출 list as tab-separated text (cp949): 날짜 as 20240105, one 거래금액 (a 대변 line negative, written
    -1,200 or (1,200)), no side column: the side comes from the sign (conf signed_amount_sides)."""
    rec = Recorder()
    out = ["\t".join(SIGNED_HEADER)]
    parens = rng.random(len(lines)) < 0.5
    for i, r in enumerate(lines.to_dict("records")):
        negative = r["차대구분"] == "대변"
        shown = (f"({money(r['amt'])})" if parens[i] else f"-{money(r['amt'])}") if negative else money(r["amt"])
        out.append("\t".join([r["일자"].replace("-", ""), r["거래처"], r["적요"], shown, r["계정코드"]]))
        rec.line(r["일자"], -r["amt"] if negative else r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    write_bytes(path, ("\r\n".join(out) + "\r\n").encode("cp949"))
    return rec
