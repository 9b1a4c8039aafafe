"""Bounded storage of one object's per-frame records for long clips.

RAM holds every frame's small metadata (pointer, scores, flags: about 1 KB) but the large
parts — low-res logits and the encoded memory — only for the most recently used frames.
Evicted logits go to disk (float16, the session folder); evicted memories are dropped and
rebuilt from features and logits when a later re-propagation needs them. Final masks are
kept on disk as 1-bit PNGs at source resolution. So RAM stays flat whether the clip has 300
or 30,000 frames.
"""

from __future__ import annotations

import os
import shutil
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from etam_plugin.model.engine import FrameRecord


@dataclass
class RecordMeta:
    obj_ptr: torch.Tensor
    object_score: float
    score: float
    interacted: bool
    reverse: bool


class RecordStore:
    """Records of one object by frame index: a RAM window plus a disk spill folder."""

    def __init__(self, folder: Path, ram_frames: int = 48, spill_dtype: type = np.float16) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ram_frames = max(1, ram_frames)
        self.spill_dtype = spill_dtype  # float16: compact; float32: read back exactly
        self._meta: dict[int, RecordMeta] = {}
        self._hot: OrderedDict[int, FrameRecord] = OrderedDict()
        # Frames whose RAM record holds its logits as computed. The others' logits were
        # read back from disk in float16, so their mask is read from its PNG (as shown).
        self._exact: set[int] = set()

    def __contains__(self, frame: int) -> bool:
        return frame in self._meta

    def __len__(self) -> int:
        return len(self._meta)

    def frames(self) -> Iterator[int]:
        return iter(sorted(self._meta))

    def put(
        self, frame: int, record: FrameRecord, *, replaces: bool = True, exact: bool = True
    ) -> None:
        """Stores a new record of the frame; its logits spilled before are out of date
        (``flush`` writes only missing files), so they go. ``exact``: the record's logits
        are as computed, so its mask may be computed from them (else: read its PNG)."""
        if replaces:
            self._path(frame).unlink(missing_ok=True)
        if exact:
            self._exact.add(frame)
        else:
            self._exact.discard(frame)
        self._meta[frame] = RecordMeta(
            record.obj_ptr, record.object_score, record.score, record.interacted, record.reverse
        )
        self._hot[frame] = record
        self._hot.move_to_end(frame)
        while len(self._hot) > self.ram_frames:
            old, evicted = self._hot.popitem(last=False)
            self._exact.discard(old)
            self._spill(old, evicted.logits)

    def get(self, frame: int) -> FrameRecord | None:
        """The record (logits reloaded from disk if evicted; memory then None)."""
        if frame not in self._meta:
            return None
        record = self._hot.get(frame)
        if record is not None:
            self._hot.move_to_end(frame)
            return record
        meta = self._meta[frame]
        logits = torch.from_numpy(np.load(self._path(frame)).astype(np.float32))
        record = FrameRecord(
            logits=logits,
            obj_ptr=meta.obj_ptr,
            object_score=meta.object_score,
            score=meta.score,
            interacted=meta.interacted,
            reverse=meta.reverse,
        )
        self.put(frame, record, replaces=False, exact=False)
        return record

    def has_exact_logits(self, frame: int) -> bool:
        """Whether the frame's mask may be computed from its record (else :meth:`load_mask`)."""
        return frame in self._exact and frame in self._hot

    def keep_mask(self, frame: int, dest: Path) -> bool:
        """Copies the frame's stored mask to ``dest`` (False: it has none), so that the
        mask shown now can be put back exactly (:meth:`put_mask`)."""
        src = self.mask_path(frame)
        if not src.exists():
            return False
        shutil.copyfile(src, dest)
        return True

    def put_mask(self, frame: int, src: Path) -> None:
        """Makes ``src`` (from :meth:`keep_mask`) the frame's stored mask (moves it)."""
        os.replace(src, self.mask_path(frame))

    def save_mask(self, frame: int, mask: np.ndarray) -> None:
        """Keeps the final source-resolution mask as a 1-bit PNG (lossless, ~5 KB at 1080p)."""
        path = self.mask_path(frame)
        tmp = path.with_suffix(".tmp.png")
        Image.fromarray(np.ascontiguousarray(mask, dtype=bool)).save(tmp, compress_level=1)
        os.replace(tmp, path)

    def load_mask(self, frame: int) -> np.ndarray | None:
        path = self.mask_path(frame)
        if not path.exists():
            return None
        with Image.open(path) as image:
            return np.asarray(image.convert("L")) > 0  # mode "1" reads as bytes 0/255

    def shelve(self, frame: int, shelf: Path, tag: int) -> RecordMeta:
        """Takes the frame's record out of the store into ``shelf`` (its logits and mask
        files, renamed with ``tag``) and returns its metadata for :meth:`unshelve`: undo
        keeps what a re-track replaced on disk, as compact as the store keeps it."""
        meta = self._meta.pop(frame)
        self._exact.discard(frame)
        record = self._hot.pop(frame, None)
        if record is not None:
            self._spill(frame, record.logits)
        for src, suffix in ((self._path(frame), ".npy"), (self.mask_path(frame), ".png")):
            if src.exists():
                shutil.move(src, shelf / f"{frame:07d}-{tag}{suffix}")
        return meta

    def unshelve(self, frame: int, shelf: Path, tag: int, meta: RecordMeta) -> None:
        """Puts back a record :meth:`shelve` took out (the frame must be empty here)."""
        for dst, suffix in ((self._path(frame), ".npy"), (self.mask_path(frame), ".png")):
            src = shelf / f"{frame:07d}-{tag}{suffix}"
            if src.exists():
                shutil.move(src, dst)
        self._meta[frame] = meta

    def pointer(self, frame: int) -> torch.Tensor:
        """The object pointer of a frame, without touching its logits."""
        return self._meta[frame].obj_ptr

    def scores(self, frame: int) -> tuple[float, float]:
        meta = self._meta[frame]
        return meta.score, meta.object_score

    def pop(self, frame: int) -> None:
        self._meta.pop(frame, None)
        self._hot.pop(frame, None)
        self._exact.discard(frame)
        for path in (self._path(frame), self.mask_path(frame)):
            if path.exists():
                path.unlink()

    def clear(self) -> None:
        for frame in list(self._meta):
            self.pop(frame)

    def flush(self) -> None:
        """Writes every RAM-only record's logits to disk (for saving a session)."""
        for frame, record in self._hot.items():
            if not self._path(frame).exists():
                self._spill(frame, record.logits)

    def ram_bytes(self) -> int:
        return sum(r.nbytes() for r in self._hot.values())

    def _path(self, frame: int) -> Path:
        return self.folder / f"{frame:07d}.npy"

    def mask_path(self, frame: int) -> Path:
        return self.folder / f"{frame:07d}.png"

    def _spill(self, frame: int, logits: torch.Tensor) -> None:
        path = self._path(frame)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, logits.numpy().astype(self.spill_dtype))
        os.replace(tmp, path)

    # -- persistence of the small metadata ------------------------------------------------

    def metadata(self) -> dict[str, np.ndarray]:
        frames = sorted(self._meta)
        if not frames:
            return {"frames": np.zeros(0, np.int64)}
        metas = [self._meta[f] for f in frames]
        return {
            "frames": np.array(frames, np.int64),
            "obj_ptr": torch.cat([m.obj_ptr for m in metas]).numpy(),
            "object_score": np.array([m.object_score for m in metas], np.float32),
            "score": np.array([m.score for m in metas], np.float32),
            "interacted": np.array([m.interacted for m in metas], bool),
            "reverse": np.array([m.reverse for m in metas], bool),
        }

    def load_metadata(self, arrays: dict[str, np.ndarray]) -> None:
        frames = arrays["frames"]
        for i, frame in enumerate(frames.tolist()):
            self._meta[frame] = RecordMeta(
                obj_ptr=torch.from_numpy(arrays["obj_ptr"][i : i + 1].copy()),
                object_score=float(arrays["object_score"][i]),
                score=float(arrays["score"][i]),
                interacted=bool(arrays["interacted"][i]),
                reverse=bool(arrays["reverse"][i]),
            )


class KeyedRecords:
    """Records by any hashable key, read back exactly (float32 on disk beyond a small RAM
    window), the newest ``limit`` kept: undo's corrections, as the user saw them."""

    def __init__(self, folder: Path, limit: int, ram: int = 16) -> None:
        self._folder = Path(folder)
        self._ram, self._limit = ram, limit
        self._store: RecordStore | None = None  # made on first use: most objects need none
        self._ids: OrderedDict[Hashable, int] = OrderedDict()
        self._next = 0

    def get(self, key: Hashable) -> FrameRecord | None:
        slot = self._ids.get(key)
        if slot is None or self._store is None:
            return None
        self._ids.move_to_end(key)
        return self._store.get(slot)

    def put(self, key: Hashable, record: FrameRecord) -> None:
        if self._store is None:
            self._store = RecordStore(self._folder, self._ram, spill_dtype=np.float32)
        slot = self._ids.pop(key, None)
        if slot is None:
            slot, self._next = self._next, self._next + 1
        self._ids[key] = slot
        self._store.put(slot, record)
        while len(self._ids) > self._limit:
            self._store.pop(self._ids.popitem(last=False)[1])
