"""Spreadsheet export styles: 계정별원장 (xlsx), 법인카드 승인내역 (xlsx), a 조회조건 cover sheet (xlsx),
국세청 간편장부 (xlsx, two-row merged header) and a BIFF .xls (xlwt). Each takes select_lines' lines."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

import numpy as np
import pandas as pd

from synth.export_common import PERIOD_TEXT, PERIOD_YEAR, STANDARD_HEADERS, Recorder, company

AMOUNT_FORMAT = "#,##0"
ACCOUNT_HEADER = ["일자", "코드", "거래처", "적요", "차변", "대변", "잔액"]
CARD_HEADER = ["승인일자", "승인번호", "가맹점명", "승인금액", "구분", "카드번호", "계정코드"]  # 구분: 승인 or 취소
BOOK_TOP = ["일자", "거래내용", "거래처", "수입", None, "비용", None, "비고", "계정코드"]
BOOK_SUB = [None, None, None, "금액", "부가세", "금액", "부가세", None, None]
CARD_CANCEL_SHARE = 0.1
FIXED_STAMP = dt.datetime(PERIOD_YEAR + 1, 1, 15, 10, 0, 0)


def _workbook():
    from openpyxl import Workbook

    wb = Workbook()
    wb.properties.creator = "account-tax synth"
    wb.properties.created = wb.properties.modified = FIXED_STAMP
    return wb


def _amount_cells(ws, row: int, columns: range) -> None:
    for col in columns:
        ws.cell(row, col).number_format = AMOUNT_FORMAT


def account_months(block: list[dict], balance: int):
    """An account's lines month by month: [(line, debit, credit, running balance)] and the month's two sums."""
    for _, month in groupby(block, key=lambda r: r["일자"][:7]):
        rows = []
        for r in month:
            dr, cr = (r["amt"], None) if r["차대구분"] == "차변" else (None, r["amt"])
            balance += (dr or 0) - (cr or 0)
            rows.append((r, dr, cr, balance))
        yield rows, sum(row[1] or 0 for row in rows), sum(row[2] or 0 for row in rows)


def ledger_by_account(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """계정별원장: per account a block row `[811] 복리후생비` (in one merged cell, or the code alone in the first cell
    and the name next to it), a 전기이월 row, its lines (일자 as MM-DD, 코드 = the 거래처's 5-digit code), then 월계
    and 누계 rows after each month. Labels come only from the block rows."""
    rec, wb = Recorder(), _workbook()
    ws = wb.active
    ws.title = "계정별원장"
    ws.append(["계정별원장"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(ACCOUNT_HEADER))
    period = f"기간 : {PERIOD_YEAR}년 01월 01일 ~ {PERIOD_YEAR}년 12월 31일"
    ws.append([f"회사명 : {company(rng)}", None, None, None, period])
    ws.append(ACCOUNT_HEADER)
    vendors = sorted(set(lines["거래처"]) - {""})
    vendor_code = dict(zip(vendors, (f"{c:05d}" for c in rng.choice(np.arange(101, 9000), len(vendors), replace=False)),
                           strict=True))  # fmt: skip
    ordered = lines.sort_values("계정코드", kind="stable")
    for code, block in groupby(ordered.to_dict("records"), key=lambda r: r["계정코드"]):
        block = list(block)
        name = block[0]["계정과목"]
        if rng.random() < 0.5:
            ws.append([f"[{code}] {name}"])
            ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=len(ACCOUNT_HEADER))
        else:
            ws.append([f"[{code}]", name])
        rec.reject("account_block")
        opening = int(rng.integers(0, 200)) * 10_000
        ws.append([None, None, None, "전기이월", opening, None, opening])
        _amount_cells(ws, ws.max_row, range(5, 8))
        rec.reject("summary_row")
        balance, total_dr, total_cr = opening, opening, 0
        for month, month_dr, month_cr in account_months(block, balance):
            for r, dr, cr, balance in month:
                ws.append([r["일자"][5:], vendor_code.get(r["거래처"], ""), r["거래처"], r["적요"], dr, cr, balance])
                _amount_cells(ws, ws.max_row, range(5, 8))
                rec.line(r["일자"], r["amt"], r["차대구분"], code, r["거래처"], r["적요"])
            total_dr, total_cr = total_dr + month_dr, total_cr + month_cr
            ws.append([None, None, None, "[ 월 계 ]", month_dr, month_cr, None])
            ws.append([None, None, None, "[ 누 계 ]", total_dr, total_cr, None])
            _amount_cells(ws, ws.max_row - 1, range(5, 7))
            _amount_cells(ws, ws.max_row, range(5, 7))
            rec.reject("summary_row", 2)
    wb.save(path)
    return rec


def card_approvals(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """법인카드 승인내역: 승인일자 as date-time cells, 8-digit 승인번호 (text); some approvals are cancelled later the
    same day by a 취소 row repeating their 승인번호 and amount (truth: negative, 차변, the approval's code); one
    approval is made twice, identically, at two times of one day (two real lines)."""
    recs = [r for r in lines.to_dict("records") if r["거래처"]]
    n = len(recs)
    times = rng.integers(8 * 3600, 19 * 3600, n)
    numbers = iter(f"{x:08d}" for x in rng.choice(np.arange(1, 10**8), 3 * n + 2, replace=False))
    cards = [f"{int(rng.integers(4000, 5600))}-{int(rng.integers(10, 99))}**-****-{int(rng.integers(1000, 9999))}"
             for _ in range(2)]  # fmt: skip
    events = []  # (time, order, cells, truth)
    for i, r in enumerate(recs):
        day = dt.datetime.fromisoformat(r["일자"])
        at = day + dt.timedelta(seconds=int(times[i]))
        card = cards[int(rng.integers(2))]
        number = next(numbers)
        approval = [at, number, r["거래처"], r["amt"], "승인", card, r["계정코드"]]
        events.append((at, len(events), approval, (r["일자"], r["amt"], r)))
        if i == n // 2:  # the same purchase again, hours later: a real second line, not a duplicate
            again = at + dt.timedelta(seconds=int(rng.integers(1800, 4 * 3600)))
            events.append((again, len(events), [again, next(numbers), *approval[2:]], (r["일자"], r["amt"], r)))
        elif i == 0 or rng.random() < CARD_CANCEL_SHARE:
            undo = at + dt.timedelta(seconds=int(rng.integers(60, 4 * 3600)))
            cells = [undo, number, r["거래처"], r["amt"], "취소", card, r["계정코드"]]
            events.append((undo, len(events), cells, (r["일자"], -r["amt"], r)))
    events.sort(key=lambda e: (e[0], e[1]))
    rec, wb = Recorder(), _workbook()
    ws = wb.active
    ws.title = "승인내역"
    ws.append(["법인카드 승인내역 조회"])
    ws.append([f"조회기간 : {PERIOD_TEXT}", None, None, None, f"회사명 : {company(rng)}"])
    ws.append(CARD_HEADER)
    for _, _, cells, (date, amount, r) in events:
        ws.append(cells)
        ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd hh:mm:ss"
        ws.cell(ws.max_row, 4).number_format = AMOUNT_FORMAT
        rec.line(date, amount, "차변", r["계정코드"], r["거래처"], None)
    wb.save(path)
    return rec


def cover_sheet(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """조회조건 on the first sheet (label / value rows), the ledger with the standard headers on the second."""
    rec, wb = Recorder(), _workbook()
    cover = wb.active
    cover.title = "조회조건"
    for row in (["조회조건", None], ["회사명", company(rng)], ["조회기간", PERIOD_TEXT], ["계정과목", "전체"],
                ["거래처", "전체"], ["출력일시", FIXED_STAMP.strftime("%Y-%m-%d %H:%M")]):  # fmt: skip
        cover.append(row)
    ws = wb.create_sheet("전표내역")
    ws.append(STANDARD_HEADERS)
    for r in lines.to_dict("records"):
        ws.append([r[h] for h in STANDARD_HEADERS])
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    wb.save(path)
    return rec


def book_sheet(rng: np.random.Generator, top: list, sub: list):
    """A 간편장부 workbook and its sheet: the title row, then a two-row header (the parents merged over 금액 / 부가세,
    the other columns merged down)."""
    wb = _workbook()
    ws = wb.active
    ws.title = "간편장부"
    ws.append([f"간편장부 ({PERIOD_YEAR}년 귀속)", None, None, None, None, None, None, f"상호 : {company(rng)}"])
    ws.append(top)
    ws.append(sub)
    for col in (1, 2, 3, 8, 9):
        ws.merge_cells(start_row=2, start_column=col, end_row=3, end_column=col)
    ws.merge_cells("D2:E2")
    ws.merge_cells("F2:G2")
    return wb, ws


def simple_book(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """국세청 간편장부: a title row, then a two-row merged header (수입 and 비용 each over 금액 / 부가세); a ledger 대변
    line is income (입금), a 차변 line an expense (출금); 금액 holds the line's total; a 합계 row closes it."""
    rec, (wb, ws) = Recorder(), book_sheet(rng, BOOK_TOP, BOOK_SUB)
    sums = [0, 0, 0, 0]
    for r in lines.to_dict("records"):
        vat = int(r["부가세"]) if r["부가세"] else None
        income = r["차대구분"] == "대변"
        amounts = [r["amt"], vat, None, None] if income else [None, None, r["amt"], vat]
        sums = [s + (a or 0) for s, a in zip(sums, amounts, strict=True)]
        day = dt.datetime.fromisoformat(r["일자"])
        ws.append([day, r["적요"], r["거래처"], *amounts, r["증빙구분"], r["계정코드"]])
        ws.cell(ws.max_row, 1).number_format = "yyyy-mm-dd"
        _amount_cells(ws, ws.max_row, range(4, 8))
        rec.line(r["일자"], r["amt"], "입금" if income else "출금", r["계정코드"], r["거래처"], r["적요"])
    ws.append(["합계", None, None, *sums, None, None])
    _amount_cells(ws, ws.max_row, range(4, 8))
    rec.reject("summary_row")
    wb.save(path)
    return rec


def xls_biff(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """A real BIFF .xls (xlwt) with the standard headers: 계정코드 as a number cell (811), amounts as numbers
    (blank when the ledger has none), dates as ISO text."""
    import xlwt

    rec, book = Recorder(), xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Sheet1")
    numeric = {"금액", "공급가액", "부가세", "계정코드"}
    for c, h in enumerate(STANDARD_HEADERS):
        ws.write(0, c, h)
    money_style = xlwt.easyxf(num_format_str="#,##0")
    for i, r in enumerate(lines.to_dict("records"), start=1):
        for c, h in enumerate(STANDARD_HEADERS):
            value = r[h]
            if h in numeric and value:
                ws.write(i, c, int(value), money_style if h != "계정코드" else xlwt.Style.default_style)
            elif value:
                ws.write(i, c, value)
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    book.save(path)
    return rec
