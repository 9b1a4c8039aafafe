"""Turn any exception into a readable report (title, message, details) for an error dialog.

The panel never dies from an error: workers report failures as results and the main window
shows them through this, using the structured fields our errors carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from etam_plugin.errors import (
    CancelledError,
    CheckpointError,
    DeviceError,
    EtamError,
    ExportError,
    MediaError,
    ModelError,
    ProjectError,
    TimelineError,
    WeightsUnavailableError,
)

OOM_ADVICE = (
    "Try a smaller model variant (ti_512x512 or mobile), a shorter range, fewer objects, "
    "or close other programs, then try again. Your prompts and results are kept."
)


@dataclass(frozen=True)
class ErrorReport:
    title: str
    text: str
    details: str = ""
    severity: str = "error"  # "error" | "warning" | "info"


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    return name == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _fields(exc: BaseException, names: tuple[str, ...]) -> list[str]:
    lines = []
    for name in names:
        value = getattr(exc, name, None)
        if value in (None, (), ""):
            continue
        if isinstance(value, tuple):
            shown = ", ".join(map(str, value[:8])) + (" …" if len(value) > 8 else "")
            lines.append(f"{name.replace('_', ' ')}: {shown}")
        else:
            lines.append(f"{name.replace('_', ' ')}: {value}")
    return lines


def describe_error(exc: BaseException, action: str = "", traceback_text: str = "") -> ErrorReport:
    """A report for ``exc``; ``action`` says what the user was doing ("Opening clip.mp4")."""
    lead = f"{action} failed.\n\n" if action else ""
    text = str(exc) or type(exc).__name__
    if _is_out_of_memory(exc):
        return ErrorReport("Out of memory", f"{lead}{text}\n\n{OOM_ADVICE}", traceback_text)
    if isinstance(exc, CancelledError):
        return ErrorReport("Cancelled", text, severity="info")
    table: tuple[tuple[type[BaseException], str, tuple[str, ...]], ...] = (
        (MediaError, "Cannot read the media", ("path", "frame_index")),
        (
            CheckpointError,
            "Cannot use this checkpoint",
            (
                "path",
                "reason",
                "expected_variant",
                "found_variant",
                "missing_keys",
                "unexpected_keys",
            ),
        ),
        (WeightsUnavailableError, "Model weights are missing", ("variant", "url", "target")),
        (DeviceError, "Cannot run on this device", ()),
        (ModelError, "Tracking model problem", ()),
        (ExportError, "Export failed", ("path",)),
        (TimelineError, "Cannot use the timeline", ("path",)),
        (ProjectError, "Cannot use the project", ("path", "reason")),
        (EtamError, "Something went wrong", ()),
    )
    for cls, title, names in table:
        if isinstance(exc, cls):
            return ErrorReport(title, lead + text, "\n".join(_fields(exc, names)))
    if isinstance(exc, OSError):
        where = f"\n\nFile: {exc.filename}" if exc.filename else ""
        reason = exc.strerror or text
        return ErrorReport("File problem", f"{lead}{reason}{where}", traceback_text)
    return ErrorReport(
        "Unexpected error",
        f"{lead}{type(exc).__name__}: {text}\n\nThe panel keeps running; your work is kept.",
        traceback_text,
    )
