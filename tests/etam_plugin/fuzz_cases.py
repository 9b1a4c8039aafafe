"""A seeded fuzzer over what users hand the tools: media bytes, timeline text, prompts
JSON, checkpoint dicts. Run as ``python -m tests.etam_plugin.fuzz_cases FAMILY SEED COUNT
FOLDER`` (a child process, so a crash in a native library cannot take pytest with it).

Each case must end in success or one of our errors (``EtamError``: a message for the user,
one line except a checkpoint's list of mismatched keys);
anything else is printed as ``{"case": n, "crash": "Type: message"}``. The last line sums
the outcomes. Mutations are byte flips, insertions, deletions, truncations and splices of
real files made by ffmpeg and our writers, and random JSON-like values.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from etam_plugin.errors import EtamError


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if not out:
            out += bytes([rng.randrange(256)])
        op = rng.random()
        at = rng.randrange(len(out))
        if op < 0.45:  # flip bytes
            for k in range(rng.randint(1, 4)):
                out[(at + k) % len(out)] = rng.randrange(256)
        elif op < 0.6:  # insert
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op < 0.75:  # delete
            del out[at : at + rng.randint(1, 64)]
        elif op < 0.9:  # truncate
            del out[rng.randrange(len(out) // 2, len(out)) :]
        else:  # repeat a stretch (nesting, duplicate records)
            stretch = out[at : at + rng.randint(1, 256)]
            out[at:at] = stretch * rng.randint(2, 50)
    return bytes(out)


def random_json(rng: random.Random, depth: int = 0) -> object:
    """A JSON-like value: numbers of every kind (NaN, inf, huge), strings, nesting."""
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] * 2 if depth < 5 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, 1, -1, 7, 10**12, -(10**12), rng.randint(-100, 100)])
    if kind == "float":
        return rng.choice([0.5, -0.5, 1e308, float("nan"), float("inf"), -float("inf"), 1e-300])
    if kind == "str":
        return rng.choice(["", "x", "1", "é#%d", "\x00", "a" * 1000])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["frame", "obj", "points", "labels", "box", "clear_old_points", "x"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def prompt_entries(rng: random.Random) -> object:
    """Mostly well-formed prompt lists with hostile values, sometimes anything at all."""
    if rng.random() < 0.2:
        return random_json(rng)
    entries = []
    for _ in range(rng.randint(0, 4)):
        entry: dict = {"frame": rng.choice([0, 1, -1, 3, 10**9, 1.5, "0", None])}
        entry["obj"] = rng.choice([1, 2, 0, -1, 1.0, True, "1"])
        if rng.random() < 0.8:
            n = rng.randint(0, 4)
            entry["points"] = [
                [rng.choice([5, 100, -3, 1e9, float("nan")]), rng.choice([5, 50, float("inf")])]
                for _ in range(n)
            ]
            if rng.random() < 0.7:
                entry["labels"] = [rng.choice([0, 1, 2, -1, True]) for _ in range(n)]
        if rng.random() < 0.3:
            entry["box"] = [rng.choice([0, 10, 60, -5, float("nan")]) for _ in range(4)]
        if rng.random() < 0.3:
            entry["clear_old_points"] = rng.choice([True, False, 0, "no"])
        if rng.random() < 0.1:
            entry[rng.choice(["x", "mask"])] = random_json(rng)
        entries.append(entry)
    return entries


def _run_cli(args: list[str]) -> int:
    from etam_plugin.cli import main

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return main(args)


def media_case(seeds: list[Path], rng: random.Random, work: Path) -> str:
    from etam_plugin.media import open_source

    seed = rng.choice(seeds)
    path = work / f"m{seed.suffix}"
    path.write_bytes(mutate(seed.read_bytes(), rng))
    with open_source(path, vfr="keep", allow_truncated=rng.random() < 0.5) as src:
        for i in sorted({0, len(src) - 1, rng.randrange(len(src))}):
            try:
                frame = src[i]
            except EtamError:
                continue
            assert frame.shape == (*src.frame_size, 3), f"frame {i} has shape {frame.shape}"
    return "read"


def timeline_case(seeds: list[Path], rng: random.Random, work: Path) -> str:
    seed = rng.choice(seeds)
    path = work / f"t{seed.suffix}"
    path.write_bytes(mutate(seed.read_bytes(), rng))
    code = _run_cli(["timeline", "list", str(path), "--rate", "25"])
    assert code in (0, 2), f"exit {code}"
    return "listed" if code == 0 else "refused"


def prompts_case(seeds: list[Path], rng: random.Random, work: Path) -> str:
    path = work / "prompts.json"
    path.write_text(json.dumps(prompt_entries(rng)))
    clip = seeds[0]
    code = _run_cli(
        ["track", str(clip), "--checkpoint", str(work / "absent.pt"), "--prompts", str(path)]
    )
    assert code == 2, f"exit {code}: a run with no checkpoint cannot succeed"
    return "refused"


def checkpoint_case(seeds: list[Path], rng: random.Random, work: Path) -> str:
    import torch

    from etam_plugin.model import load_model

    path = work / "efficienttam_ti_512x512.pt"
    if rng.random() < 0.5:
        path.write_bytes(mutate(seeds[0].read_bytes(), rng))
    else:
        state = torch.load(seeds[0], weights_only=True)
        state = dict(state.get("model", state))
        for key in rng.sample(sorted(state), k=3):
            choice = rng.random()
            if choice < 0.3:
                del state[key]
            elif choice < 0.5:
                state[key] = torch.full_like(state[key], float("nan"))
            elif choice < 0.7:
                state[key] = torch.zeros(3, 3)
            elif choice < 0.85:
                state[key] = state[key].half()
            else:
                state[f"{key}.extra"] = torch.ones(2)
        torch.save({"model": state}, path)
    load_model(path)
    return "loaded"


FAMILIES: dict[str, Callable[[list[Path], random.Random, Path], str]] = {
    "media": media_case,
    "timeline": timeline_case,
    "prompts": prompts_case,
    "checkpoint": checkpoint_case,
}


def main(family: str, seed: int, count: int, folder: Path) -> None:
    seeds = sorted(p for p in (folder / "seeds").iterdir() if p.is_file())
    work = folder / "work"
    work.mkdir(exist_ok=True)
    outcomes: Counter[str] = Counter()
    for n in range(count):
        rng = random.Random(seed * 1_000_003 + n)
        try:
            outcomes[FAMILIES[family](seeds, rng, work)] += 1
        except EtamError as exc:
            text = str(exc)
            if "Traceback" in text or not text.strip():
                print(json.dumps({"case": n, "crash": f"error with a traceback: {text[:300]}"}))
            outcomes["refused"] += 1
        except Exception as exc:  # anything else is a finding
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(
                json.dumps(
                    {
                        "case": n,
                        "crash": f"{type(exc).__name__}: {str(exc)[:200]}",
                        "at": f"{where.filename}:{where.lineno}",
                    }
                ),
                flush=True,
            )
            outcomes["crash"] += 1
    print(json.dumps({"outcomes": dict(outcomes)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
