"""Bytes to text: by the charset a document declares, bad bytes replaced where they are."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# --- decoding ---------------------------------------------------------------

_BOMS = [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")]
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")  # what "surrogateescape" makes of undecodable bytes
_DECODED_NON_ASCII = re.compile("[^\x00-\x7f\ufffd\udc80-\udcff]")
# A declared charset plainly does not fit when bytes fail to decode in at least this many
# places, ten times as many as the non-ASCII characters it did decode. (One bad byte makes
# one place, even where it breaks the bytes of a character around it.)
_MISFIT_PLACES = 2
_MISFIT_RATIO = 10


def decode(body: bytes, declared_charset: str | None) -> str:
    """Bytes to text by the charset the document declares: its BOM, the HTTP header, its
    <meta>, else UTF-8. Bytes that do not decode become U+FFFD, each on its own place, so
    one bad byte never changes how the rest reads; the charset is detected only when the
    declared ones plainly do not fit the bytes.
    """
    for mark, name in _BOMS:
        if body.startswith(mark):
            return body[len(mark) :].decode(name, "replace")
    if (utf8 := _plainly_utf8(body)) is not None:
        return utf8
    # The first reading by a declared charset, kept in case detection finds nothing better.
    fallback: str | None = None
    for label in (declared_charset, _meta_charset(body), "utf-8"):
        decoded = _decode_as(body, label) if label else None
        if decoded is None:
            continue
        text, fits = decoded
        if fits:
            return text.removeprefix("\ufeff")
        fallback = fallback if fallback is not None else text
    # UTF-8 is always a charset, so some reading was kept.
    assert fallback is not None
    try:
        match = charset_normalizer.from_bytes(body).best()
    except Exception:  # detection is best effort: it must never fail a fetch
        match = None
    text = str(match) if match is not None else fallback
    return text.removeprefix("\ufeff")


def _plainly_utf8(body: bytes) -> str | None:
    """The body as UTF-8 when it is valid UTF-8 with multi-byte characters in it, whatever
    its header says: 8-bit text that also decodes as UTF-8 is vanishingly rare, while a UTF-8
    page under a server's default `charset=ISO-8859-1` is common, and read as Latin-1 its
    "can’t" would become "canâ€™t"."""
    if body.isascii() or body.count(b"\x00") * 10 > len(body):  # ASCII, or UTF-16 markup
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode_as(body: bytes, label: str) -> tuple[str, bool] | None:
    """(text with undecodable bytes replaced, whether the charset fits the bytes), or None
    for a label that is no text charset."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        if name in ("iso8859-1", "ascii"):
            name = "cp1252"  # browsers read both labels as windows-1252 (curly quotes in 0x80-0x9f)
        try:
            escaped, bad = body.decode(name), 0  # most bodies decode whole: no search for bad bytes
        except UnicodeDecodeError:
            escaped = body.decode(name, "surrogateescape")
            bad = len(_ESCAPED_BYTES.findall(escaped))  # places
    except (LookupError, UnicodeError, ValueError, TypeError):  # unknown, not a text codec, unusable
        return None
    if name == "cp1252":
        # Its five unassigned bytes are the C1 controls of the same number, as in browsers.
        return (_ESCAPED_BYTES.sub(lambda m: _latin1(m.group()), escaped) if bad else escaped), True
    text = body.decode(name, "replace") if bad else escaped
    if name.startswith(("utf-16", "utf-32")) and body.count(b"\x00") * 10 < len(body):
        return text, False  # UTF-16 markup is half NUL bytes; these bytes are 8-bit text
    if text.count("\x00") * 10 > len(text):
        return text, False  # UTF-16 read as an 8-bit charset
    misfit = bad >= _MISFIT_PLACES and bad > _MISFIT_RATIO * len(_DECODED_NON_ASCII.findall(text))
    return text, not misfit


def _latin1(escaped: str) -> str:
    return escaped.encode("utf-8", "surrogateescape").decode("latin-1")


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:2048])
    if not match:
        return None
    label = match.group(1).decode("ascii")
    # A page we could read as ASCII to find this tag is not UTF-16 (the HTML spec's rule).
    return "utf-8" if label.lower().startswith("utf-16") else label
