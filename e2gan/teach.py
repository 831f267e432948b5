"""Step 1, Teach: a teacher edits photos; the (source, edit) pairs become a resumable data set."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from e2gan.data.dataset import (
    PairedDataset,
    PairRecord,
    mark_part_done,
    merge_parts,
    pair_key,
    part_folder,
    wait_until_merged,
)
from e2gan.data.images import (
    BadImageError,
    Skipped,
    center_crop_resize,
    open_source,
    sha256_of_image,
)
from e2gan.data.samples import colour_photos, held_out_names, random_crops, shipped_photos, split_photos
from e2gan.files import MANIFEST
from e2gan.outputs import folder_lock
from e2gan.registry import create_teacher


@dataclass
class TeachSummary:
    written: int = 0
    already_done: int = 0
    duplicates: int = 0  # sources identical to another one (the same pixels): one pair serves both
    failed: list[Skipped] = field(default_factory=list)
    bad_inputs: list[Skipped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.bad_inputs

    def lines(self) -> list[str]:
        dup = f", {self.duplicates} identical to another source (kept once)" if self.duplicates else ""
        n = lambda k, word: f"{k} {word}{'' if k == 1 else 's'}"  # noqa: E731
        out = [f"{n(self.written, 'pair')} written, {self.already_done} already present{dup}, "
               f"{n(len(self.bad_inputs), 'unusable input')}, {n(len(self.failed), 'teacher failure')}"]
        out += [f"  skipped {s.path}: {s.reason}" for s in self.bad_inputs]
        out += [f"  failed  {s.path}: {s.reason}" for s in self.failed]
        return out


def pair_seed(source_sha256: str, prompt: str, seed: int) -> int:
    """One deterministic seed per (source, prompt): reruns and shards reproduce the same edit."""
    digest = hashlib.sha256(f"{source_sha256}|{prompt}|{seed}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def teach(
    teacher: str,
    prompts: list[str],
    sources: list[tuple[str, Image.Image]],
    out,
    size: int = 256,
    seed: int = 0,
    split: str = "train",
    teacher_settings: dict | None = None,
    teacher_obj=None,
    progress: bool = True,
    summary: TeachSummary | None = None,
    shard: tuple[int, int] = (0, 1),
) -> TeachSummary:
    """Edit every source with every prompt; pairs already in ``out`` are skipped (resume).

    ``shard=(rank, world)``: this process edits sources ``rank, rank + world, ...`` into its own part
    folder; rank 0 then waits for the others and merges the parts into ``out`` atomically."""
    summary = summary or TeachSummary()
    rank, world = shard
    final_out, done = out, None
    if world > 1:  # pairs already merged into the final folder by an earlier run count as done
        sources = sources[rank::world]
        out = part_folder(final_out, rank, world)
        if Path(final_out, MANIFEST).exists():
            done = PairedDataset(final_out)
    editor = teacher_obj or create_teacher(teacher, **(teacher_settings or {}))
    settings = dict(getattr(editor, "settings", {}))
    known = editor.concepts() if hasattr(editor, "concepts") else None
    unknown = [p for p in prompts if known and p not in known]
    if unknown:
        shown = ", ".join(known[:12]) + (f", ... ({len(known)} in all; `e2gan concepts --teacher {teacher}` lists them)" if len(known) > 12 else "")
        from e2gan.settings import shorten

        raise ValueError(f"teacher {teacher!r} has no concept {shorten(unknown[0], 80)!r}; choose one of: {shown}")
    with folder_lock(out, "teaches into"):
        data = PairedDataset(out, create=True)
        data.remove_partial_files()
        todo, queued = [], set()
        for name, img in sources:
            try:
                img = open_source(img)  # a path from scan_images(decode=False): decoded here, one at a time
            except BadImageError as exc:
                summary.bad_inputs.append(Skipped(str(name), str(exc)))
                continue
            src = center_crop_resize(img, size) if img.size != (size, size) else img
            del img
            sha = sha256_of_image(src)
            for prompt in prompts:
                s = pair_seed(sha, prompt, seed)
                key = pair_key(sha, teacher, settings, prompt, s)
                if key in data or (done is not None and key in done):
                    summary.already_done += 1
                    continue
                if key in queued:
                    summary.duplicates += 1
                    continue
                queued.add(key)
                todo.append((name, src, sha, prompt, s, key))
        batch_size = max(1, int(getattr(editor, "batch_size", 1)))
        bar = tqdm(total=len(todo), desc=f"teach[{teacher}]", unit="img", disable=not progress, dynamic_ncols=True)
        by_prompt: dict[str, list] = {}
        for item in todo:
            by_prompt.setdefault(item[3], []).append(item)
        for prompt, items in by_prompt.items():
            for i in range(0, len(items), batch_size):
                batch = items[i : i + batch_size]
                results = _edit_isolating_failures(editor, batch, prompt, summary)
                for item, edited in zip(batch, results):
                    if edited is None:
                        continue
                    name, src, sha, _, s, key = item
                    if edited.size != src.size:
                        edited = edited.resize(src.size, Image.LANCZOS)
                    rec = PairRecord(key=key, source="", target="", prompt=prompt, teacher=teacher, settings=settings, seed=s,
                                     source_sha256=sha, size=list(src.size), source_name=str(name), split=split)
                    data.add(rec, src, edited.convert("RGB"))
                    summary.written += 1
                bar.update(len(batch))
                bar.set_postfix(prompt=prompt[:24], failed=len(summary.failed))
        bar.close()
    if world > 1:
        mark_part_done(final_out, rank, world)
        if rank == 0:
            with folder_lock(final_out, "teaches into"):
                merge_parts(final_out, world)
        else:  # the other shards return once rank 0 has merged every part (training may follow on every rank)
            wait_until_merged(final_out, rank, world)
    return summary


def _edit_isolating_failures(editor, batch, prompt, summary):
    """Edit a batch; if it raises, retry one by one so a single bad image does not stop the rest."""
    try:
        return editor.edit([b[1] for b in batch], prompt, [b[4] for b in batch])
    except Exception as exc:
        if len(batch) == 1:
            summary.failed.append(Skipped(str(batch[0][0]), f"teacher failed on prompt {prompt!r}: {exc}"))
            return [None]
    return [_edit_isolating_failures(editor, [b], prompt, summary)[0] for b in batch]


def teach_shipped_crops(teacher: str, concepts, data, size: int, crops: int, test_crops: int = 0, seed: int = 0,
                        colour_only: bool | None = None, teacher_obj=None, progress: bool = False, shard: tuple[int, int] = (0, 1), photos=None):
    """Teach ``concepts`` on random crops of the shipped photos: ``crops`` of the training photos as the
    train split, ``test_crops`` of the held-out photos as the test split (the offline default data).
    ``colour_only`` keeps grey textures out (they teach colour concepts nothing; default: what the teacher declares
    as ``colour_only``); ``photos``: a folder from
    ``e2gan photos`` whose photos join the shipped ones (colour concepts only). Resumable."""
    if colour_only is None:
        teacher_obj = teacher_obj or create_teacher(teacher)
        colour_only = bool(getattr(teacher_obj, "colour_only", False))
    if photos and not colour_only:
        raise ValueError(f"--photos adds colour photos, for teachers whose concepts are colour edits (`colour_only`); teacher {teacher!r} "
                         "also trains on grey textures: drop --photos")
    train_ph, test_ph = split_photos(colour_photos(photos) if colour_only else shipped_photos(), held_out_names(photos))
    summaries = []
    if crops:
        summaries.append(teach(teacher, concepts, random_crops(train_ph, crops, size, seed), data, size=size, seed=seed, split="train",
                               teacher_obj=teacher_obj, progress=progress, shard=shard))
    if test_crops:
        summaries.append(teach(teacher, concepts, random_crops(test_ph, test_crops, size, seed + 1000), data, size=size, seed=seed,
                               split="test", teacher_obj=teacher_obj, progress=progress, shard=shard))
    return summaries
