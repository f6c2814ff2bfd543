"""The one library seam the emulator needs replaced: huggingface_hub's xet session (hf-apis.md §2.4).

Bucket writes always go through hf_xet, whose CAS protocol is not practical to emulate. This fake
session hands the bytes to the emulator over a test-only side channel (`PUT /__fake_cas__/{hash}`) and
returns the hash; every Hub HTTP call stays real. Nothing of space_factory is patched.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx2


class _Handle:
    def __init__(self, data: bytes, endpoint: str) -> None:
        digest = hashlib.sha256(b"xet" + data).hexdigest()
        httpx2.put(f"{endpoint}/__fake_cas__/{digest}", content=data).raise_for_status()
        info = type("I", (), {"hash": digest, "file_size": len(data), "sha256": hashlib.sha256(data).hexdigest()})()
        self._result = type("R", (), {"xet_info": info})()

    def result(self) -> Any:
        return self._result


class _Commit:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def __enter__(self) -> _Commit:
        return self

    def __exit__(self, *exc: object) -> bool:
        return False

    def start_upload_file(self, path: str, sha256: object = None, **kw: object) -> _Handle:
        return _Handle(Path(path).read_bytes(), self.endpoint)

    def start_upload_bytes(self, data: bytes, sha256: object = None, **kw: object) -> _Handle:
        return _Handle(bytes(data), self.endpoint)

    def wait_to_finish(self) -> None:
        pass

    def abort(self) -> None:
        pass


class FakeXetSession:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def new_upload_commit(self, **kw: object) -> _Commit:
        return _Commit(self.endpoint)


def install(endpoint: str) -> Any:
    """Replace `huggingface_hub.utils._xet.get_xet_session`; returns the original to restore."""
    import huggingface_hub.utils._xet as xm

    original = xm.get_xet_session
    xm.get_xet_session = lambda: FakeXetSession(endpoint)
    return original
