"""Every file the package writes is written whole or not at all.

``write_atomic(path, write)`` has ``write(f)`` fill a temporary file beside ``path`` (same folder,
so the rename below never crosses a file system), flushes it to disk, renames it over ``path`` in
one step, then flushes the folder's entry. A crash or an exception mid-write leaves the old file
(or no file) and no temporary file behind. The temporary name comes from ``tempfile.mkstemp``:
unique per call, so two threads or processes saving one path never share a temporary file; the
last rename wins, and each version on disk is a complete one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable


def write_atomic(path: str | os.PathLike, write: Callable[[IO], object], *, text: bool = False) -> Path:
    """Write ``path`` through ``write(f)`` (f a binary file, or a text file with ``text=True``),
    atomically. Returns the path. Raises what ``write`` or the file system raises, the old file intact."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w" if text else "wb", **({"newline": "", "encoding": "utf-8"} if text else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a file the user asked for gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(path.parent)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """``text`` (UTF-8) to ``path``, atomically."""
    return write_atomic(path, lambda f: f.write(text), text=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once, at import: setting it briefly later would race with other threads


def _fsync_folder(folder: Path) -> None:
    """The rename itself on disk (POSIX); not possible on every platform and file system."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
