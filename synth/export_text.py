"""Text export styles: 더존 분개장 (CSV, cp949; one page or paged), 인터넷뱅킹 거래내역 (CSV), a web ERP's CSV and
its "엑셀 다운로드" (an HTML table saved as .xls). Each takes the lines of select_lines and returns a Recorder."""

from __future__ import annotations

import html
from itertools import groupby

import numpy as np
import pandas as pd

from synth.export_common import PERIOD_TEXT, PERIOD_YEAR, Recorder, company, csv_bytes, money, pad, write_bytes

JOURNAL_HEADER = ["일자", "전표번호", "계정코드", "계정과목", "거래처", "적요", "차변금액", "대변금액"]
PAGED_HEADER = ["일자", "전표번호", "계정코드", "계정과목", "거래처", "적요", "차대구분", "금액"]
PAGE_LINES = 50
BANK_HEADER = ["거래일시", "적요", "기재내용", "출금액", "입금액", "잔액", "거래점"]
BANK_KINDS = {"출금": ("타행이체", "CMS출금", "체크카드", "인터넷출금"), "입금": ("타행입금", "이체입금", "창구입금")}
BRANCHES = ("인터넷", "모바일", "본점", "강남역지점", "CMS")
WEB_ERP_HEADER = ["①일자", "②거래처(상호)", "③적 요", "④금 액", "차대구분", "⑤계정코드"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _records(lines: pd.DataFrame) -> list[dict]:
    return lines.to_dict("records")


def journal_two_amounts(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """분개장: title, company and period rows; 차변금액/대변금액 (the other one 0); 일계 rows after each day and
    월계 rows after each month, their sums in the amount cells."""
    rec, width = Recorder(), len(JOURNAL_HEADER)
    rows = [["분개장"], [f"회사명 : {company(rng)}"], [f"기간 : {PERIOD_TEXT}"], JOURNAL_HEADER]
    for _, month in groupby(_records(lines), key=lambda r: r["일자"][:7]):
        month_dr = month_cr = 0
        for _, day in groupby(month, key=lambda r: r["일자"]):
            day_dr = day_cr = 0
            for r in day:
                dr = r["amt"] if r["차대구분"] == "차변" else 0
                cr = r["amt"] - dr
                day_dr, day_cr = day_dr + dr, day_cr + cr
                rows.append([r["일자"], r["전표번호"], r["계정코드"], r["계정과목"], r["거래처"], r["적요"],
                             money(dr), money(cr)])  # fmt: skip
                rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
            rows.append(["", "", "", "", "", "[ 일 계 ]", money(day_dr), money(day_cr)])
            rec.reject("summary_row")
            month_dr, month_cr = month_dr + day_dr, month_cr + day_cr
        rows.append(["", "", "", "", "", "[ 월 계 ]", money(month_dr), money(month_cr)])
        rec.reject("summary_row")
    write_bytes(path, csv_bytes(pad(rows, width), "cp949"))
    return rec


def journal_paged(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """분개장 printed to pages of PAGE_LINES lines: each later page repeats a blank row, the title and the header."""
    rec, width = Recorder(), len(PAGED_HEADER)
    title = f"분개장 ({company(rng)})"
    rows = [[title], [f"기간 : {PERIOD_TEXT}"], PAGED_HEADER]
    for i, r in enumerate(_records(lines)):
        if i and i % PAGE_LINES == 0:
            rows += [[], [title], PAGED_HEADER]
            rec.blank()
            rec.reject("repeated_title")
            rec.reject("repeated_header")
        rows.append([r["일자"], r["전표번호"], r["계정코드"], r["계정과목"], r["거래처"], r["적요"], r["차대구분"],
                     money(r["amt"])])  # fmt: skip
        rec.line(r["일자"], r["amt"], r["차대구분"], r["계정코드"], r["거래처"], r["적요"])
    write_bytes(path, csv_bytes(pad(rows, width), "utf-8-sig"))
    return rec


def bank_statement(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """거래내역조회 (utf-8-sig): newest first, 거래일시 with time, 출금액/입금액 (the other 0), running 잔액.
    No account codes; a ledger 차변 line is a withdrawal (출금), a 대변 line a deposit (입금)."""
    recs = _records(lines)
    n = len(recs)
    drawn = rng.integers(9 * 3600, 21 * 3600, n)
    seconds = drawn[np.lexsort((drawn, lines["일자"].to_numpy()))]  # dates are sorted: times rise within a day
    kinds = rng.integers(0, 3, n)
    branches = rng.integers(0, len(BRANCHES), n)
    balance = int(rng.integers(300, 900)) * 1_000_000
    body, truth = [], []
    for i, r in enumerate(recs):
        side = "출금" if r["차대구분"] == "차변" else "입금"
        balance += r["amt"] if side == "입금" else -r["amt"]
        s = int(seconds[i])
        when = f"{r['일자'].replace('-', '.')} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
        kind = BANK_KINDS[side][int(kinds[i]) % len(BANK_KINDS[side])]
        memo = r["거래처"] or r["적요"]
        out, inn = (r["amt"], 0) if side == "출금" else (0, r["amt"])
        body.append([when, kind, memo, money(out), money(inn), money(balance), BRANCHES[int(branches[i])]])
        truth.append((r["일자"], r["amt"], side, memo, kind))
    rec = Recorder()
    for date, amt, side, memo, kind in reversed(truth):
        rec.line(date, amt, side, None, memo, kind)
    account = f"{int(rng.integers(100, 999))}-***-{int(rng.integers(100000, 999999))}"
    head = [["거래내역조회"], [f"조회계좌 : {account}"], [f"조회기간 : {PERIOD_TEXT.replace('-', '.')}"],
            [f"예금주 : {company(rng)}"], [], BANK_HEADER]  # fmt: skip
    write_bytes(path, csv_bytes(pad(head + body[::-1], len(BANK_HEADER)), "utf-8-sig"))
    return rec


def web_erp(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """A web ERP's CSV (utf-8): circled-number headers, `="0813"` codes (4 digits, leading zero kept),
    some amounts in full-width digits, dates as 2024/01/05."""
    rec = Recorder()
    wide = rng.random(len(lines)) < 0.3
    out = [",".join(WEB_ERP_HEADER)]
    for i, r in enumerate(_records(lines)):
        code = "0" + r["계정코드"]
        amount = money(r["amt"]).translate(FULL_WIDTH) if wide[i] else money(r["amt"])
        cells = [r["일자"].replace("-", "/"), r["거래처"], r["적요"], amount, r["차대구분"], f'="{code}"']
        out.append(",".join(f'"{c}"' if "," in c else c for c in cells))
        rec.line(r["일자"], r["amt"], r["차대구분"], code, r["거래처"], r["적요"])
    write_bytes(path, ("\r\n".join(out) + "\r\n").encode("utf-8"))
    return rec


def html_xls(lines: pd.DataFrame, path: str, rng: np.random.Generator) -> Recorder:
    """엑셀 다운로드 of a web ERP: an HTML table (euc-kr meta, cp949 bytes) named .xls; a two-row header with 금액
    over 공급가액/부가세/합계; 계정코드 as `="81100"` (the ledger's code + "00"); a 합계 row at the end."""
    rec = Recorder()
    top = ["일자", "전표번호", "거래처", "적요"]
    tail = ["차대구분", "계정코드", "계정과목"]
    th = "".join(f'<th rowspan="2">{h}</th>' for h in top)
    th += '<th colspan="3">금액</th>' + "".join(f'<th rowspan="2">{h}</th>' for h in tail)
    rows = [f"<tr>{th}</tr>", "<tr><th>공급가액</th><th>부가세</th><th>합계</th></tr>"]
    sums = [0, 0, 0]
    for r in _records(lines):
        code = r["계정코드"] + "00"
        supply, vat = r["공급가액"], r["부가세"]
        sums = [sums[0] + int(supply or 0), sums[1] + int(vat or 0), sums[2] + r["amt"]]
        cells = [r["일자"], r["전표번호"], r["거래처"], r["적요"], money(supply) if supply else "",
                 money(vat) if vat else "", money(r["amt"]), r["차대구분"], f'="{code}"', r["계정과목"]]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(c, quote=False)}</td>" for c in cells) + "</tr>")
        rec.line(r["일자"], r["amt"], r["차대구분"], code, r["거래처"], r["적요"])
    total = ["합계", "", "", "", *map(money, sums), "", "", ""]
    rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in total) + "</tr>")
    rec.reject("summary_row")
    doc = (
        '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=euc-kr">\r\n'
        f'<title>전표조회 {PERIOD_YEAR}</title>\r\n</head>\r\n<body>\r\n<table border="1">\r\n'
        + "\r\n".join(rows)
        + "\r\n</table>\r\n</body>\r\n</html>\r\n"
    )
    write_bytes(path, doc.encode("cp949"))
    return rec
