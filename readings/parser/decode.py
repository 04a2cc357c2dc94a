"""Decoding: the upload's bytes (plain or gzip, bounded in size and in ratio) into batches of
text lines, UTF-8 (a BOM allowed), with the wrong kinds of file (a spreadsheet, UTF-16, binary)
named precisely."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, BinaryIO

from .types import Limits, _Rejected, _size_text

if TYPE_CHECKING:
    from .core import _Parser

_CHUNK = 1 << 20


_FIRST_CHUNK = 64 << 10


# Lines per batch of the row pass: small enough that a sink (the store's COPY) gets the first
# rows early and the database works while the rest is parsed, big enough that the per-batch
# costs of the fast path (a few sets and dicts) don't show.
_BATCH_LINES = 2048


_FIRST_BATCH_LINES = 256


_GZIP_MAGIC = b"\x1f\x8b"


_BOM = b"\xef\xbb\xbf"


# Below this much output a gzip ratio says nothing (headers dominate a tiny file).
_RATIO_FLOOR_BYTES = 1 << 20


def _raw_chunks(fileobj: BinaryIO, limits: Limits, name: str) -> Iterator[bytes]:
    total = 0
    # The first read is small: the first rows reach a sink (and its database) sooner.
    size = _FIRST_CHUNK
    while chunk := fileobj.read(size):
        size = _CHUNK
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError("parse_readings needs a binary stream (open the file with 'rb')")
        total += len(chunk)
        if total > limits.max_bytes:
            raise _Rejected(
                "too_large",
                f"{name} is larger than {_size_text(limits.max_bytes)}, the limit for one "
                "upload. Split it into several files (one per year, say).",
            )
        yield bytes(chunk)


def _gunzip(raw: Iterable[bytes], limits: Limits, name: str) -> Iterator[bytes]:
    """Decompress gzip members as they stream in, bounding the output in size and in ratio."""
    decompressor: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
    raw_total = 0
    out_total = 0
    for data in raw:
        raw_total += len(data)
        while True:
            if decompressor is None:
                # gzip allows several members in a row; zero padding after the last is tolerated.
                if not data.strip(b"\x00"):
                    break
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = decompressor.decompress(data, _CHUNK)
            except zlib.error as exc:
                raise _Rejected(
                    "bad_gzip", f"{name} starts like a gzip file but is damaged ({exc})."
                ) from exc
            if out:
                out_total += len(out)
                if out_total > limits.max_bytes:
                    raise _Rejected(
                        "too_large",
                        f"{name} expands to more than {_size_text(limits.max_bytes)} when "
                        "decompressed, the limit for one upload. Split it into several files.",
                    )
                if out_total > _RATIO_FLOOR_BYTES and out_total > limits.max_gzip_ratio * raw_total:
                    raise _Rejected(
                        "gzip_bomb",
                        f"{name} expands more than {limits.max_gzip_ratio}-fold when "
                        "decompressed, which interval data never does; it was refused as a "
                        "possible compression bomb.",
                    )
                yield out
            if decompressor.eof:
                data = decompressor.unused_data
                decompressor = None
                if not data:
                    break
            else:
                data = decompressor.unconsumed_tail
                # A full output chunk with no input left may still have output pending.
                if not data and len(out) < _CHUNK:
                    break
    if decompressor is not None and not decompressor.eof:
        raise _Rejected("bad_gzip", f"{name} is a gzip file that ends early (truncated).")


def _text_bytes(fileobj: BinaryIO, limits: Limits, name: str, parser: _Parser) -> Iterator[bytes]:
    raw = _raw_chunks(fileobj, limits, name)
    first = next(raw, b"")
    # A read() may return less than asked; the magic number needs two bytes.
    while 0 < len(first) < 2:
        more = next(raw, b"")
        if not more:
            break
        first += more
    if first[:2] == _GZIP_MAGIC:
        parser.compressed = True
        return _gunzip(chain([first], raw), limits, name)
    return chain([first], raw)


def _refuse_non_text(head: bytes, name: str) -> None:
    """Name the common wrong files precisely: the fix differs for each."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _Rejected(
            "not_utf8",
            f"{name} is UTF-16 text; save it as 'CSV UTF-8' (comma or semicolon separated).",
        )
    if head.startswith(b"PK\x03\x04"):
        raise _Rejected(
            "binary_file",
            f"{name} is a ZIP archive or an Excel workbook (.xlsx), not a CSV file. "
            "In Excel use Save As, CSV UTF-8; a single CSV may be gzip-compressed.",
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _Rejected(
            "binary_file",
            f"{name} is an old Excel workbook (.xls), not a CSV file. "
            "In Excel use Save As, CSV UTF-8.",
        )
    if head.startswith(b"%PDF"):
        raise _Rejected("binary_file", f"{name} is a PDF, not a CSV file.")
    if b"\x00" in head:
        raise _Rejected("binary_file", f"{name} is a binary file, not a CSV text file.")


def _line_batches(
    chunks: Iterator[bytes], limits: Limits, name: str
) -> Iterator[tuple[int, list[str], bool]]:
    """Split the byte stream into decoded lines, a chunk at a time: (number of the first line,
    the lines without their newline, whether the chunk has a quote character).

    Chunks are cut after the last newline, so a UTF-8 sequence never straddles two decodes (none
    of its bytes is 0x0A) and a bad byte is located by line. Batches keep the per-line cost in C.
    """
    max_line = limits.max_line_bytes
    max_lines = limits.max_rows + 1
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 4:
            break
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    _refuse_non_text(head[:_CHUNK], name)

    def too_long(line_no: int, piece: bytes) -> _Rejected:
        hint = " (are its lines ended by CR alone?)" if b"\r" in piece[:max_line] else ""
        return _Rejected(
            "line_too_long",
            f"Line {line_no:,} of {name} is longer than {max_line:,} bytes{hint}; interval "
            "data lines are short, so this is not an interval-data CSV.",
            line_no,
        )

    def decode(body: bytes, first_line: int) -> list[str]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_no = first_line + body.count(b"\n", 0, exc.start)
            bad = body[exc.start : exc.start + 1].hex().upper()
            raise _Rejected(
                "not_utf8",
                f"{name} is not UTF-8 text (line {line_no:,} has the byte 0x{bad}). "
                "Save it as 'CSV UTF-8' and upload it again.",
                line_no,
            ) from exc
        if "\x00" in text:
            line_no = first_line + text.count("\n", 0, text.index("\x00"))
            raise _Rejected(
                "binary_file",
                f"{name} has binary data (a NUL byte) on line {line_no:,}; it is not a CSV "
                "text file.",
                line_no,
            )
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        longest = max(map(len, lines))
        # Characters undercount bytes only outside ASCII; then measure the bytes themselves.
        if longest > max_line or (not text.isascii() and 4 * longest > max_line):
            for index, raw_line in enumerate(body.split(b"\n")):
                if len(raw_line.rstrip(b"\r")) > max_line:
                    raise too_long(first_line + index, raw_line)
        return lines

    line_count = 0
    carry = b""
    for chunk in chain([head], chunks):
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            if len(carry) > max_line + 1:
                raise too_long(line_count + 1, carry)
            continue
        carry = buf[cut + 1 :]
        lines = decode(buf[: cut + 1], line_count + 1)
        lines.pop()  # the empty piece after the final newline
        start = line_count + 1
        line_count += len(lines)
        if line_count > max_lines:
            raise _Rejected(
                "too_many_rows",
                f"{name} has more than {limits.max_rows:,} rows, the limit for one upload. "
                "Split it into several files.",
            )
        if len(carry) > max_line + 1:
            raise too_long(line_count + 1, carry)
        yield start, lines, b'"' in buf
    if carry:
        lines = decode(carry, line_count + 1)
        yield line_count + 1, lines, b'"' in carry
