"""Recognizing audio containers from their first bytes, with no decoder at hand."""

from __future__ import annotations

SNIFF_BYTES = 64
SUPPORTED_FORMATS = ("wav", "mp3", "ogg", "flac", "m4a", "webm")


def sniff_format(head: bytes) -> str | None:
    """The container of an audio file from its first bytes, or None when it is not one we know."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    # WebM's magic sits at offset 0, so it is checked before the ftyp box at offset 4.
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    return None
