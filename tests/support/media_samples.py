"""Small real media for output-judging tests: a PNG that is not flat and a WAV that is not silent."""

from __future__ import annotations

import io
import math
import struct
import wave


def png_bytes(width: int = 32, height: int = 24) -> bytes:
    """An RGB PNG with a gradient in every channel (the media judges refuse a flat image)."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    image.putdata([(x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x * y) % 256)
                   for y in range(height) for x in range(width)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def wav_bytes(frames: int = 4000, rate: int = 8000, amplitude: int = 8000) -> bytes:
    """A mono 16-bit PCM sine (the media judges refuse a silent WAV)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", int(amplitude * math.sin(i / 5))) for i in range(frames)))
    return buffer.getvalue()
