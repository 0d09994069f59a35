"""Resumable sweep output: results are committed chunk by chunk as they finish.

CSV (``--out FILE.csv``): each chunk's lines are appended to FILE and fsynced, then one line is
appended (and fsynced) to the journal ``FILE.journal``: the file size after the chunk and the
grid points it holds with their number of lines.  The journal's first line records the sweep
(spec, varied fields, grid) so that ``--resume`` refuses a different sweep.  On resume the data
file is truncated to the last committed size — a chunk that was being written when the process
died is dropped and solved again — and the committed points are skipped.  No point is lost and
none is duplicated.  When every point is done the file is rewritten in grid order (atomically:
temporary file + ``os.replace``) and the journal is removed.

Parquet (``--out FILE.parquet``): each chunk is a file ``FILE.parts/part-NNNNNN.parquet``
written atomically (temporary name + ``os.replace``); at the end the parts are joined into
FILE, in grid order, and the directory is removed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from .._optional import require
from ..errors import SpecError
from .tidy import POINT, decode_lists, encode_lists


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _append(path: Path, data: bytes) -> int:
    with open(path, "ab") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        return handle.tell()


class MemoryStore:
    """No file: chunks are kept in memory."""

    def __init__(self):
        self.frames: list[pd.DataFrame] = []

    def done(self) -> set[int]:
        return set()

    def append(self, df: pd.DataFrame) -> None:
        self.frames.append(df)

    def finish(self) -> pd.DataFrame:
        return _sorted(self.frames)


def _sorted(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    df["row"] = pd.to_numeric(df["row"]).astype("Int64")
    df = df.sort_values([POINT, "row"], kind="stable", na_position="first").reset_index(drop=True)
    return df


class CSVStore:
    """CSV file + append-only journal (see the module docstring)."""

    def __init__(self, path: Path, fingerprint: dict, resume: bool):
        self.path = Path(path)
        self.journal = self.path.with_name(self.path.name + ".journal")
        self.fingerprint = fingerprint
        self.columns: list[str] | None = None
        self.points: list[tuple[int, int]] = []  # (point, number of lines), in file order
        self.size = 0
        self.complete_file = False
        if resume and self.journal.exists():
            self._recover()
        elif resume and self.path.exists():
            self.complete_file = True  # a finished sweep: nothing to resume
        else:
            self._start()

    def _start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for p in (self.path, self.journal):
            if p.exists():
                p.unlink()
        self.path.touch()
        header = json.dumps({"sweep": self.fingerprint}) + "\n"
        tmp = self.journal.with_name(self.journal.name + ".tmp")
        tmp.write_text(header)
        with open(tmp, "rb+") as h:
            os.fsync(h.fileno())
        os.replace(tmp, self.journal)
        _fsync_dir(self.path.parent)

    def _recover(self) -> None:
        lines = self.journal.read_bytes().split(b"\n")
        try:
            head = json.loads(lines[0])["sweep"]
        except (ValueError, KeyError, IndexError):
            raise SpecError("--resume", f"journal {self.journal} is unreadable; start again without --resume") from None
        if head != json.loads(json.dumps(self.fingerprint)):
            raise SpecError(
                "--resume",
                f"{self.path} was written by a different sweep (spec or --vary differ); "
                "start again without --resume or use another --out",
            )
        size = 0
        for raw in lines[1:]:
            try:
                entry = json.loads(raw)
            except ValueError:
                break  # a journal line cut short by the interruption: its chunk is not committed
            if entry.get("final"):
                self._finish_interrupted(entry)
                return
            size = entry["size"]
            if entry.get("columns"):
                self.columns = entry["columns"]
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
        self.journal.unlink()
        self.complete_file = True

    def done(self) -> set[int]:
        return {p for p, _ in self.points}

    def append(self, df: pd.DataFrame) -> None:
        if not len(df):
            return
        counts = df.groupby(POINT, sort=False).size()
        body = encode_lists(df.drop(columns=[POINT]))
        new_columns = None
        if self.columns is None:
            self.columns = list(body.columns)
            new_columns = self.columns
            header = True
        else:
            header = False
            extra = [c for c in body.columns if c not in self.columns]
            if extra:
                import warnings

                warnings.warn(f"sweep: columns {extra} appeared after the header was written; they are dropped")
        body = body.reindex(columns=self.columns)
        buffer = io.StringIO()
        body.to_csv(buffer, index=False, header=header, lineterminator="\n")
        self.size = _append(self.path, buffer.getvalue().encode())
        pts = [[int(p), int(n)] for p, n in counts.items()]
        entry = {"size": self.size, "points": pts}
        if new_columns:
            entry["columns"] = new_columns
        _append(self.journal, (json.dumps(entry) + "\n").encode())
        self.points += [tuple(p) for p in pts]

    def read(self) -> pd.DataFrame:
        if self.size == 0 and not self.complete_file:
            return pd.DataFrame()
        df = pd.read_csv(self.path)
        return decode_lists(df)

    def finish(self) -> pd.DataFrame:
        if self.complete_file:
            return self.read()
        df = self.read()
        if len(df):
            ids = [p for p, n in self.points for _ in range(n)]
            if len(ids) != len(df):
                raise RuntimeError(f"{self.path}: {len(df)} lines but the journal lists {len(ids)}")
            df.insert(0, POINT, ids)
            df = _sorted([df])
            tmp = self.path.with_name(self.path.name + ".sorted.tmp")
            encode_lists(df.drop(columns=[POINT])).to_csv(tmp, index=False, lineterminator="\n")
            with open(tmp, "rb+") as h:
                os.fsync(h.fileno())
            _append(self.journal, (json.dumps({"final": True, "tmp": str(tmp)}) + "\n").encode())
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        self.journal.unlink()
        return df


class ParquetStore:
    """A directory of atomically written part files, joined at the end."""

    def __init__(self, path: Path, fingerprint: dict, resume: bool):
        require("pyarrow", extra="sweep")
        self.path = Path(path)
        self.parts = self.path.with_name(self.path.name + ".parts")
        self.fingerprint = fingerprint
        self.complete_file = False
        self.seq = 0
        self._done: set[int] = set()
        meta = self.parts / "sweep.json"
        if resume and meta.exists():
            if json.loads(meta.read_text()) != json.loads(json.dumps(fingerprint)):
                raise SpecError("--resume", f"{self.path} was written by a different sweep; start again without --resume")
            for part in sorted(self.parts.glob("part-*.parquet")):
                self._done |= set(pd.read_parquet(part, columns=[POINT])[POINT].astype(int))
                self.seq = max(self.seq, int(part.stem.split("-")[1]) + 1)
        elif resume and self.path.exists():
            self.complete_file = True
        else:
            if self.parts.exists():
                shutil.rmtree(self.parts)
            self.parts.mkdir(parents=True)
            meta.write_text(json.dumps(fingerprint))

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
        shutil.rmtree(self.parts)
        return decode_lists(df)


def open_store(out, fingerprint: dict, resume: bool):
    if out is None:
        if resume:
            raise SpecError("--resume", "needs --out FILE: the sweep to continue")
        return MemoryStore()
    out = Path(out)
    if out.suffix == ".parquet":
        return ParquetStore(out, fingerprint, resume)
    return CSVStore(out, fingerprint, resume)
