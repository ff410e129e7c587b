"""What a ledger file really is, from its bytes: exports are often misnamed (an HTML table saved as .xls)."""

import io
import re
import zipfile

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
TEXT_BOMS = (b"\xef\xbb\xbf",)
# an OOXML workbook saved with a password is an OLE2 file holding this stream (its name in UTF-16LE)
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
SNIFF_BYTES = 64 * 1024
WORKBOOK_FORMATS = ("xlsx", "xlsm", "xlsb", "xls", "ods")


def _zip_format(raw: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").strip().startswith(ODS_MIMETYPE):
                return "ods"
            types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except (zipfile.BadZipFile, OSError, ValueError):
        return "xlsx"  # a zip that does not open: most likely a truncated workbook; its reader says what is wrong
    if any(name.startswith("xl/") for name in names):
        if "xl/workbook.bin" in names:
            return "xlsb"
        return "xlsm" if b"macroEnabled" in types else "xlsx"
    return "zip"


def _text_head(raw: bytes) -> bytes:
    head = raw[:SNIFF_BYTES]
    for bom in TEXT_BOMS:
        head = head.removeprefix(bom)
    return head.lstrip()


def sniff_format(raw: bytes) -> str:
    """The file's format by content: xlsx, xlsm, xlsb, ods, xls, parquet, html, spreadsheetml, zip or csv."""
    if raw.startswith(ZIP_MAGICS):
        return _zip_format(raw)
    if raw.startswith(OLE2_MAGIC):
        return "xls"
    if raw.startswith(b"PAR1"):
        return "parquet"
    head = _text_head(raw)
    if head.startswith(b"<"):
        lower = head.lower()
        # Excel's "XML Spreadsheet 2003" has <Table> elements too, but no HTML
        if b"urn:schemas-microsoft-com:office:spreadsheet" in lower and b"<workbook" in lower:
            return "spreadsheetml"
        # a page without a table is HTML too: its reader says so, rather than "no ledger header in <html>"
        if lower.startswith((b"<!doctype html", b"<html")) or re.search(rb"<table[\s>]", raw.lower()):
            return "html"
    return "csv"


def is_encrypted_workbook(raw: bytes) -> bool:
    """An OLE2 container holding a password-protected OOXML workbook, not a BIFF .xls."""
    return raw.startswith(OLE2_MAGIC) and ENCRYPTED_STREAM in raw[: 1 << 20]
