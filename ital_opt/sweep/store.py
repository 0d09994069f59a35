"""Resumable sweep output: results are committed chunk by chunk as they finish.

CSV (``--out FILE.csv``): each chunk's lines are appended to FILE (without a header) and
fsynced, then one line is appended (and fsynced) to the journal ``FILE.journal``: the file size
after the chunk, the grid points it holds with their number of lines, and the chunk's columns
when they differ from the previous chunk's (a point without rows has no row fields, so columns
may appear later).  The journal's first line records the sweep's fingerprint (the whole spec,
every grid value, the method and options) so that ``--resume`` refuses a different sweep.  On
resume the data file is truncated to the last committed size — a chunk that was being written
when the process died is dropped and solved again — and the committed points are skipped.  No
point is lost and none is duplicated.  When every point is done the file is rewritten in grid
order with one header (the union of the columns; atomically: temporary file + ``os.replace``)
and the journal is removed.

Parquet (``--out FILE.parquet``): each chunk is a file ``FILE.parts/part-NNNNNN.parquet``
written atomically (temporary name + ``os.replace``); at the end the parts are joined into
FILE, in grid order, and the directory is removed.

Either way a finished sweep leaves its fingerprint in ``FILE.sweep.json``, so that ``--resume``
of a finished file returns it only when it is the same sweep, and the output is locked
(``FILE.lock``, an exclusive ``flock``) while a sweep writes it: a second sweep on the same
file is refused instead of corrupting it.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from .._optional import require
from ..errors import SpecError
from .tidy import POINT, decode_lists, encode_lists


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # a directory that cannot be opened or synced is left as it is
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _append(path: Path, data: bytes) -> int:
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        return handle.tell()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one under another with every column once: the longest column list's order first
    (a point with rows has every field), then columns only other chunks have, in order of appearance."""
    columns = [list(f.columns) for f in frames]
    union = dict.fromkeys(itertools.chain(max(columns, key=len), *columns))
    return pd.concat(frames, ignore_index=True).reindex(columns=list(union))


def _sorted(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    df = _concat(frames)
    df["row"] = pd.to_numeric(df["row"]).astype("Int64")
    return df.sort_values([POINT, "row"], kind="stable", na_position="first").reset_index(drop=True)


class Lock:
    """An exclusive lock on ``FILE.lock`` for as long as a sweep writes FILE (Linux/macOS ``flock``)."""

    def __init__(self, out: Path):
        import fcntl

        self.path = out.with_name(out.name + ".lock")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SpecError("--out", f"another sweep is writing {out} (it holds {self.path.name}); "
                                "wait for it or use another --out", str(out)) from None
            try:  # the lock file may have been removed by a sweep that just finished: lock the current one
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)  # closing releases the flock
        self.fd = None


class MemoryStore:
    """No file: chunks are kept in memory."""

    complete_file = False

    def __init__(self):
        self.frames: list[pd.DataFrame] = []

    def done(self) -> set[int]:
        return set()

    def append(self, df: pd.DataFrame) -> None:
        self.frames.append(df)

    def finish(self) -> pd.DataFrame:
        return _sorted(self.frames)

    def close(self) -> None:
        pass


class FileStore:
    """What CSV and Parquet outputs share: the lock and the fingerprint of a finished sweep.

    The subclass's ``_open(resume)`` starts or recovers the output once the lock is held."""

    def __init__(self, path: Path, fingerprint: dict, resume: bool):
        self.path = Path(path)
        self.fingerprint = json.loads(json.dumps(fingerprint))
        self.record = self.path.with_name(self.path.name + ".sweep.json")
        self.complete_file = False
        self.lock = Lock(self.path)
        try:
            self._open(resume)
        except BaseException:  # the lock is released whatever stopped the opening, and the error re-raised
            self.lock.release()
            raise

    def close(self) -> None:
        self.lock.release()

    def _compare(self, recorded: dict) -> None:
        """Refuse to resume into a file written by another sweep; say what differs."""
        if recorded == self.fingerprint:
            return
        names = {"spec_sha256": "spec", "input_files": "referenced spec file", "grid": "grid",
                 "method": "method", "options": "options", "kind": "kind"}
        what = [k for k in names if recorded.get(k) != self.fingerprint.get(k)]
        differ = " and ".join(names[k] for k in what) or "fingerprint"
        written = (f"is a finished sweep with another {differ}" if self.complete_file
                   else f"was written by a different sweep (another {differ})")
        raise SpecError("--resume", f"{self.path} {written}; start again without --resume or use another --out")

    def _check_finished(self) -> None:
        """The output is a finished sweep (nothing to resume): it must be this one."""
        self.complete_file = True
        try:
            recorded = json.loads(self.record.read_text())["sweep"]
        except (OSError, ValueError, KeyError, TypeError):
            raise SpecError("--resume", f"{self.path} exists but {self.record.name} (the record of the sweep that "
                            "wrote it) is missing or unreadable; start again without --resume") from None
        self._compare(recorded)

    def _record_finished(self) -> None:
        _write_atomic(self.record, json.dumps({"sweep": self.fingerprint}) + "\n")


class CSVStore(FileStore):
    """CSV file + append-only journal (see the module docstring)."""

    def _open(self, resume: bool) -> None:
        self.journal = self.path.with_name(self.path.name + ".journal")
        self.segments: list[tuple[int, int, list[str]]] = []  # (start, end, columns) of committed chunks
        self.columns: list[str] | None = None
        self.points: list[tuple[int, int]] = []  # (point, number of lines), in file order
        self.size = 0
        if resume and self.journal.exists():
            self._recover()
        elif resume and self.path.exists():
            self._check_finished()
        else:
            self._start()

    def _start(self) -> None:
        for p in (self.path, self.journal, self.record):
            p.unlink(missing_ok=True)
        self.path.touch()
        _write_atomic(self.journal, json.dumps({"sweep": self.fingerprint}) + "\n")
        _fsync_dir(self.path.parent)

    def _recover(self) -> None:
        lines = self.journal.read_bytes().split(b"\n")
        try:
            head = json.loads(lines[0])["sweep"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise SpecError("--resume", f"journal {self.journal} is unreadable; start again without --resume") from None
        self._compare(head)
        size = 0
        for raw in lines[1:]:
            try:
                entry = json.loads(raw)
            except ValueError:
                break  # a journal line cut short by the interruption: its chunk is not committed
            if entry.get("final"):
                self._finish_interrupted(entry)
                return
            if entry.get("columns"):
                self.columns = entry["columns"]
            self.segments.append((size, entry["size"], self.columns))
            size = entry["size"]
            self.points += [tuple(p) for p in entry["points"]]
        actual = self.path.stat().st_size if self.path.exists() else 0
        if actual < size:
            raise SpecError("--resume", f"{self.path} is shorter than its journal says ({actual} < {size} bytes)")
        if actual > size:
            os.truncate(self.path, size)  # drop the chunk that was being written
        self.size = size

    def _finish_interrupted(self, entry) -> None:
        tmp = Path(entry["tmp"])
        if tmp.exists():
            os.replace(tmp, self.path)
        self._record_finished()
        self.journal.unlink()
        self.complete_file = True

    def done(self) -> set[int]:
        return {p for p, _ in self.points}

    def append(self, df: pd.DataFrame) -> None:
        if not len(df):
            return
        counts = df.groupby(POINT, sort=False).size()
        body = encode_lists(df.drop(columns=[POINT]))
        columns = [str(c) for c in body.columns]
        buffer = io.StringIO()
        body.to_csv(buffer, index=False, header=False, lineterminator="\n")
        start = self.size
        self.size = _append(self.path, buffer.getvalue().encode())
        pts = [[int(p), int(n)] for p, n in counts.items()]
        entry = {"size": self.size, "points": pts}
        if columns != self.columns:
            entry["columns"] = columns
            self.columns = columns
        _append(self.journal, (json.dumps(entry) + "\n").encode())
        self.segments.append((start, self.size, columns))
        self.points += [tuple(p) for p in pts]

    def read(self) -> pd.DataFrame:
        if self.complete_file:
            return decode_lists(pd.read_csv(self.path)) if self.path.stat().st_size else pd.DataFrame()
        if not self.segments:
            return pd.DataFrame()
        data = self.path.read_bytes()
        frames = []
        for cols, run in itertools.groupby(self.segments, key=lambda s: s[2]):  # same columns: read at once
            chunks = list(run)
            frames.append(pd.read_csv(io.BytesIO(data[chunks[0][0]:chunks[-1][1]]), header=None, names=cols))
        return decode_lists(_concat(frames) if len(frames) > 1 else frames[0])

    def finish(self) -> pd.DataFrame:
        if self.complete_file:
            return self.read()
        df = self.read()
        tmp = self.path.with_name(self.path.name + ".sorted.tmp")
        if len(df):
            ids = [p for p, n in self.points for _ in range(n)]
            if len(ids) != len(df):
                raise RuntimeError(f"{self.path}: {len(df)} lines but the journal lists {len(ids)}")
            df.insert(0, POINT, ids)
            df = _sorted([df])
            encode_lists(df.drop(columns=[POINT])).to_csv(tmp, index=False, lineterminator="\n")
        else:
            tmp.write_text("")
        with open(tmp, "rb+") as h:
            os.fsync(h.fileno())
        _append(self.journal, (json.dumps({"final": True, "tmp": str(tmp)}) + "\n").encode())
        os.replace(tmp, self.path)
        self._record_finished()
        _fsync_dir(self.path.parent)
        self.journal.unlink()
        return df


class ParquetStore(FileStore):
    """A directory of atomically written part files, joined at the end (pyarrow: see :func:`open_store`)."""

    def _open(self, resume: bool) -> None:
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.seq = 0
        self._done: set[int] = set()
        meta = self.parts / "sweep.json"
        if resume and meta.exists():
            try:
                recorded = json.loads(meta.read_text())
            except ValueError:
                raise SpecError("--resume", f"{meta} is unreadable; start again without --resume") from None
            self._compare(recorded)
            for part in sorted(self.parts.glob("part-*.parquet")):
                self._done |= set(pd.read_parquet(part, columns=[POINT])[POINT].astype(int))
                self.seq = max(self.seq, int(part.stem.split("-")[1]) + 1)
        elif resume and self.path.exists():
            self._check_finished()
        else:
            if self.parts.exists():
                shutil.rmtree(self.parts)
            self.record.unlink(missing_ok=True)
            self.parts.mkdir()
            meta.write_text(json.dumps(self.fingerprint))

    def done(self) -> set[int]:
        return set(self._done)

    def append(self, df: pd.DataFrame) -> None:
        if not len(df):
            return
        name = self.parts / f"part-{self.seq:06d}.parquet"
        tmp = self.parts / f".tmp-{self.seq:06d}.parquet"
        encode_lists(df).to_parquet(tmp, index=False)
        with open(tmp, "rb+") as h:
            os.fsync(h.fileno())
        os.replace(tmp, name)
        self.seq += 1
        self._done |= set(df[POINT].astype(int))

    def finish(self) -> pd.DataFrame:
        if self.complete_file:
            return decode_lists(pd.read_parquet(self.path))
        frames = [pd.read_parquet(p) for p in sorted(self.parts.glob("part-*.parquet"))]
        df = _sorted(frames)
        tmp = self.path.with_name(self.path.name + ".tmp")
        df.drop(columns=[POINT], errors="ignore").to_parquet(tmp, index=False)
        os.replace(tmp, self.path)
        self._record_finished()
        shutil.rmtree(self.parts)
        return decode_lists(df)


def open_store(out, fingerprint: dict, resume: bool):
    """The store of a sweep's output: in memory (``out=None``), CSV, or Parquet (``.parquet``)."""
    if out is None:
        if resume:
            raise SpecError("--resume", "needs --out FILE: the sweep to continue")
        return MemoryStore()
    from ..files import check_output

    out = Path(out)
    check_output(out, "--out", regular=True)
    if out.suffix != ".parquet":
        return CSVStore(out, fingerprint, resume)
    require("pyarrow", extra="sweep")
    return ParquetStore(out, fingerprint, resume)
