"""Reading specs and writing outputs safely: what a hostile or mistaken path cannot do.

Inputs.  A spec must be a regular file (not a FIFO, a device such as ``/dev/zero``, a
directory or a symlink loop) of at most :data:`MAX_SPEC_BYTES`; anything else is a
:class:`~ital_opt.errors.SpecError` naming the file, raised before a byte is read.

Outputs.  ``check_output`` is called before anything is solved, so that bad output paths fail
fast and nothing is written: the parent directory must exist, the path must not be a
directory.  A regular file is replaced atomically (temporary file in the same directory, then
``os.replace``), so a reader never sees half a file.  An existing FIFO or character device
(``-o /dev/stdout``, ``-o /dev/null``) is written into directly, never replaced; a FIFO nobody
reads is refused rather than waited on.  A symbolic link is followed: the file it points to is
replaced, the link stays.  Sweep tables (``regular=True``) must be regular files,
because they are appended to, truncated and resumed.

Provenance.  Every spec file read while a problem is built (a follower or team spec that a
policy or coalition spec refers to by path) is recorded with the SHA-256 of its bytes
(:func:`recording_reads`), so that a sweep's fingerprint changes when such a file changes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from .errors import SpecError

MAX_SPEC_BYTES = 256 * 2**10
"""The largest spec file read (256 KiB; the bundled specs are a few kB): reading it takes well
under a second, and lists are limited to ``spec.MAX_ENTRIES`` entries anyway."""


_READS: ContextVar[list[tuple[str, str]] | None] = ContextVar("spec_reads", default=None)


@contextmanager
def recording_reads() -> Iterator[list[tuple[str, str]]]:
    """Collect ``(resolved path, sha256)`` of every spec file read inside the block.

    Blocks nest: what an inner block records is also recorded by the enclosing one.
    """
    outer = _READS.get()
    mine: list[tuple[str, str]] = []
    token = _READS.set(mine)
    try:
        yield mine
    finally:
        _READS.reset(token)
        if outer is not None:
            outer.extend(mine)


def read_spec_bytes(path: str | Path) -> bytes:
    """The bytes of a spec file, after checking that it is a regular file of a sane size."""
    where = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SpecError(None, "file not found", where) from None
    except OSError as exc:  # ELOOP (a symlink loop), ENAMETOOLONG, EACCES, ...
        raise SpecError(None, f"cannot read the spec: {exc.strerror or exc}", where) from None
    if stat.S_ISDIR(info.st_mode):
        raise SpecError(None, "is a directory, not a spec file", where)
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(None, f"is not a regular file ({_what(info.st_mode)}); a spec must be a TOML file", where)
    if info.st_size > MAX_SPEC_BYTES:
        raise SpecError(None, f"is {info.st_size:,} bytes; a spec may have at most {MAX_SPEC_BYTES:,}", where)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(None, f"cannot read the spec: {exc.strerror or exc}", where) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(None, f"is larger than {MAX_SPEC_BYTES:,} bytes", where)
    reads = _READS.get()
    if reads is not None:
        reads.append((str(Path(path).resolve()), hashlib.sha256(data).hexdigest()))
    return data


def _what(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def check_output(path: str | Path, field: str = "-o", *, directory: bool = False, regular: bool = False) -> None:
    """Refuse an output path that cannot be written as asked (before anything is solved).

    directory: the path is a directory to write several files into (created if missing, with its
    parents).  regular: the path must be (or become) a regular file.
    """
    path = Path(path)
    where = str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise SpecError(field, f"cannot be used as output: {exc.strerror or exc}", where) from None
    if directory:
        if info is not None and not stat.S_ISDIR(info.st_mode):
            raise SpecError(field, "exists and is not a directory", where)
        if info is None:
            parent = _existing_ancestor(path)
            if not os.access(parent, os.W_OK | os.X_OK):
                raise SpecError(field, f"cannot be created: {str(parent)!r} is not writable", where)
        return
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise SpecError(field, "is a directory; give a file name", where)
        if not stat.S_ISREG(info.st_mode):
            if regular or not (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
                raise SpecError(field, f"is {_what(info.st_mode)}; give a regular file", where)
            if stat.S_ISFIFO(info.st_mode) and str(path) not in _HELD:
                # open it now (without blocking) so that a FIFO nobody reads fails before any solve;
                # the descriptor is kept for the write, since closing it would end the reader's input
                _HELD[str(path)] = _open_special(path, field)
            return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(field, f"the directory {str(parent)!r} does not exist", where)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SpecError(field, f"the directory {str(parent)!r} is not writable", where)


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def write_bytes(path: str | Path, data: bytes, field: str = "-o") -> None:
    """Write `data` to `path`: atomically for a regular file, directly into a FIFO or a device."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and (stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode)):
        _write_special(path, data, field)
        return
    check_output(path, field)
    if path.is_symlink():  # replace the file it points to, never the link (-o /dev/stdout into a file)
        path = Path(os.path.realpath(path))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise SpecError(field, f"cannot write: {exc.strerror or exc}", str(path)) from None


def write_text(path: str | Path, text: str, field: str = "-o") -> None:
    write_bytes(path, text.encode("utf-8"), field)


_HELD: dict[str, int] = {}


def _open_special(path: Path, field: str) -> int:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise SpecError(field, "is a FIFO that nobody reads", str(path)) from None
        raise SpecError(field, f"cannot write: {exc.strerror or exc}", str(path)) from None
    os.set_blocking(fd, True)
    return fd


def _write_special(path: Path, data: bytes, field: str) -> None:
    fd = _HELD.pop(str(path), None)
    if fd is None:
        fd = _open_special(path, field)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise SpecError(field, f"cannot write: {exc.strerror or exc}", str(path)) from None
    finally:
        os.close(fd)
