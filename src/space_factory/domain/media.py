"""What a file's first bytes say it is (magic numbers), for judging image and audio outputs. Pure."""

from __future__ import annotations

__all__ = ["sniff_media"]

_BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
_MP4_AUDIO_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_MP4_IMAGE_BRANDS = {b"avif": "image/avif", b"avis": "image/avif", b"heic": "image/heic", b"heix": "image/heic",
                     b"mif1": "image/heic", b"msf1": "image/heic"}  # fmt: skip


def sniff_media(head: bytes) -> str | None:
    """The media type a file's first bytes announce, by magic number; None when unknown.

    Args:
        head: the first bytes of the file (16 are enough for most types; a WebM's track type may
            need a few hundred to tell audio from video).

    Example:
        >>> sniff_media(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
        'image/png'
        >>> sniff_media(b"RIFF\\x24\\x00\\x00\\x00WAVEfmt ")
        'audio/wav'
    """
    if not isinstance(head, bytes | bytearray):
        return None
    head = bytes(head)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    # "BM" alone is too weak (any text starting with "BM"): the DIB header size must be a known one.
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] in (0xFB, 0xFA, 0xF3, 0xF2)):
        return "audio/mpeg"
    if len(head) >= 2 and head[0] == 0xFF and head[1] in (0xF1, 0xF9):
        return "audio/aac"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _MP4_AUDIO_BRANDS:
            return "audio/mp4"
        return _MP4_IMAGE_BRANDS.get(brand, "video/mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML: a TrackType element (0x83, size 1) of 2 is audio, 1 is video; audio only → audio/webm.
        if b"\x83\x81\x02" in head and b"\x83\x81\x01" not in head:
            return "audio/webm"
        return "video/webm"
    return None
