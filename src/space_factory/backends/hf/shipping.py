"""Ship the server's own package to the job, so job and server run the same code (DESIGN §2).

The wheel is built from the installed package's files (no build backend, no network, a few ms), with a
local version label holding the content digest (`0.1.0+1a2b3c4d5e6f`): pip in the job installs exactly
this code, and two servers with different code never share a wheel name.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

__all__ = ["build_wheel"]

_DIST = "space-factory"
# The package's root directory, found from this module's own place in it (space_factory/backends/hf/),
# so shipping needs no import of the package's public face.
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def _package_files() -> tuple[Path, list[Path]]:
    root = _PACKAGE_ROOT
    files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and p.suffix not in (".pyc", ".pyo"))
    return root, files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(out_dir: Path) -> Path:
    """A wheel of the running `space_factory` package in `out_dir` (reused while the code is unchanged)."""
    root, files = _package_files()
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        meta = importlib.metadata.distribution(_DIST)
        base, requires = meta.version.split("+")[0], list(meta.requires or [])
    except importlib.metadata.PackageNotFoundError:
        base, requires = "0.0.0", []
    version = f"{base}+{h.hexdigest()[:12]}"
    wheel = out_dir / f"space_factory-{version}-py3-none-any.whl"
    if wheel.exists():
        return wheel
    out_dir.mkdir(parents=True, exist_ok=True)
    info = f"space_factory-{version}.dist-info"
    extra = {
        f"{info}/METADATA": "".join([f"Metadata-Version: 2.1\nName: {_DIST}\nVersion: {version}\n",
                                     *(f"Requires-Dist: {r}\n" for r in requires)]),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: space-factory\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[console_scripts]\nspace-factory = space_factory.cli:main\n",
    }
    tmp = wheel.with_suffix(".tmp")
    records: list[str] = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            name = "space_factory/" + path.relative_to(root).as_posix()
            data = path.read_bytes()
            zf.writestr(name, data)
            records.append(_record_line(name, data))
        for name, text in extra.items():
            zf.writestr(name, text)
            records.append(_record_line(name, text.encode()))
        zf.writestr(f"{info}/RECORD", "\n".join([*records, f"{info}/RECORD,,"]) + "\n")
    tmp.replace(wheel)
    return wheel
