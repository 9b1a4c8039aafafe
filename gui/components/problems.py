"""Problem frames: where a run of frames that need the user's eye starts, and what is wrong
there. Frames that still need tracking (untracked or stale) and done frames where the model
lost an object or scored it low; on a long clip these are invisible in the strip, so the
panel's Next/Previous Problem jumps to them and says what is wrong (``EditorModel.next_problem``).
"""

from __future__ import annotations

from etam_plugin.gui.components.coverage import LOST, Coverage
from etam_plugin.gui.components.fill import DONE
from etam_plugin.gui.components.objects import ObjectList
from etam_plugin.model import FrameStatus


def problem_start(
    coverage: Coverage, ids: list[int], here: int, num_frames: int, step: int = 1
) -> int | None:
    """The first frame after (``step`` 1) or before (-1) ``here`` where a run of problem
    frames of ``ids`` starts; None when there is none that way."""
    stats = {o: coverage.statuses(o) for o in ids}
    problems = {o: coverage.problems(o) for o in ids}

    def kind(f: int) -> object:
        """What is wrong on frame ``f`` (None: nothing); a run is frames of one kind."""
        if any(s[f] not in DONE for s in stats.values()):
            return "todo"  # stale then untracked is one run: one tracking job fills it
        found = tuple((o, p[f]) for o, p in problems.items() if f in p)
        return found or None

    frames = range(here + 1, num_frames) if step > 0 else range(here - 1, -1, -1)
    for f in frames:
        this = kind(f)
        if this is not None and (f == 0 or kind(f - 1) != this):
            return f
    return None


def describe_problem(coverage: Coverage, objects: ObjectList, frame: int, ids: list[int]) -> str:
    """What is wrong on ``frame``, object by object ("Object 2 lost")."""
    parts = []
    for o in ids:
        name = objects.get(o).name
        status = coverage.status(o, frame)
        found = coverage.problem(o, frame)
        if status is FrameStatus.STALE:
            parts.append(f"{name} stale (a correction before it)")
        elif status is FrameStatus.EMPTY:
            parts.append(f"{name} not tracked")
        elif found is not None and found[0] == LOST:
            parts.append(f"{name} lost")
        elif found is not None:
            parts.append(f"{name} scores low (predicted IoU {found[1]:.2f})")
    return ", ".join(parts)
