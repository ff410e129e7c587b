"""Text files in any common Korean encoding: decoding, and refusing binary data that is no known format."""

from ledger.errors import LedgerFileError

NUL_SNIFF_BYTES = 8192
LINES_SHOWN = 10
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
BINARY = "binary data (NUL bytes), not a text ledger; is the extension right? (UTF-16 text needs its byte-order mark)"


def lines_shown(lines: list[int]) -> str:
    """Line numbers for a message: the first ten, and how many more."""
    more = f" and {len(lines) - LINES_SHOWN} more" if len(lines) > LINES_SHOWN else ""
    return ", ".join(map(str, lines[:LINES_SHOWN])) + more


def decode_text(url: str, raw: bytes, encodings: list[str]) -> tuple[str, str]:
    """Decode text bytes with the first encoding that fits (UTF-16 by its byte-order mark); binary is refused."""
    # Excel's "Unicode text" export: a byte-order mark, and NULs as the high bytes of digits and separators
    if raw.startswith(UTF16_BOMS) and b"\x00" in raw[:NUL_SNIFF_BYTES]:
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    first_error = None
    for encoding in encodings:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError as err:
            first_error = first_error or (encoding, err)
        except LookupError:
            continue
    if b"\x00" in raw[:NUL_SNIFF_BYTES]:
        raise LedgerFileError(url, BINARY)
    where = ""
    if first_error:
        encoding, err = first_error
        data = err.object  # without the BOM utf-8-sig took off
        line = data[: err.start].count(b"\n") + 1
        where = f" (not {encoding} from line {line} on: byte 0x{data[err.start]:02x})"
    raise LedgerFileError(url, f"cannot be decoded with any of {encodings}{where}; save it as UTF-8 or CP949")


def refuse_nul(url: str, text: str) -> None:
    """NUL characters: a binary file (or UTF-16 without its mark) when many, else the lines holding them."""
    if "\x00" not in text:
        return
    if text.count("\x00") * 10 > len(text):
        raise LedgerFileError(url, BINARY)
    lines = [i for i, line in enumerate(text.split("\n"), start=1) if "\x00" in line]
    raise LedgerFileError(url, f"NUL bytes (\\x00) in line(s) {lines_shown(lines)}; remove them or re-export the file")
