"""The official EfficientTAM weights: where they are on this computer, and fetching them.

Weights come from the Hugging Face repo ``yunyangx/efficient-track-anything`` through
``huggingface_hub`` (its cache, its locking, its progress bar, its retry with ``Range`` when
a connection drops mid-file). A file the user put in :func:`weights_dir` by hand wins over
the cache, so an offline machine can be set up by copying one file. ``mobile`` is the
``ti_512x512`` file run with another memory attention mode.

Note: huggingface_hub ≥ 1.x resumes a dropped connection within one download, but writes
each download to a fresh temporary file that it deletes on failure, so a download that was
cancelled or whose process died starts again from zero next time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from huggingface_hub import constants, hf_hub_download, hf_hub_url, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from huggingface_hub.utils import tqdm as hf_tqdm

from etam_plugin.errors import CancelledError, CheckpointError, WeightsUnavailableError
from etam_plugin.model.config import VARIANTS, get_config

__all__ = [
    "ENV_WEIGHTS_DIR",
    "REPO_ID",
    "REVISION",
    "WeightsInfo",
    "checkpoint_filename",
    "download_weights",
    "find_weights",
    "list_weights",
    "official_url",
    "require_weights",
    "resolve_checkpoint",
    "weights_dir",
]

REPO_ID = "yunyangx/efficient-track-anything"
REVISION = "main"
ENV_WEIGHTS_DIR = "ETAM_WEIGHTS_DIR"

ProgressCallback = Callable[[int, "int | None"], None]
"""Called with (bytes done, total bytes or None) as a download advances."""
RetryCallback = Callable[[str], None]
"""Called with a sentence ("Connection refused; retrying in 4 s (retry 3 of 5)") each time
huggingface_hub waits to try the Hub again."""

HF_HTTP_LOGGER = "huggingface_hub.utils._http"  # where huggingface_hub says it retries
_RETRYING = re.compile(
    r"(?:Retrying in|Waiting) (?P<wait>[\d.]+)s.*\[Retry (?P<k>\d+)/(?P<n>\d+)\]"
)
_THROWN = re.compile(r"^(?:'(?P<why>.*)'|(?P<http>HTTP Error \d+)) thrown while", re.DOTALL)


def weights_dir() -> Path:
    """The folder where a user may put official ``.pt`` files by hand.

    ``$ETAM_WEIGHTS_DIR`` if set, else the per-user data folder (platformdirs), e.g.
    ``~/.local/share/etam-plugin/weights`` on Linux. It need not exist.
    """
    override = os.environ.get(ENV_WEIGHTS_DIR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("etam-plugin", appauthor=False)) / "weights"


def checkpoint_filename(variant: str) -> str:
    """The official file name of ``variant`` (``mobile`` → ``efficienttam_ti_512x512.pt``)."""
    if variant not in VARIANTS:
        raise CheckpointError(
            f"unknown variant {variant!r}; known variants: {', '.join(VARIANTS)} "
            "(or give the path of a .pt file)",
            reason="unknown-variant",
        )
    filename = get_config(variant).checkpoint_file
    if filename is None:  # pragma: no cover - every official variant has a release today
        raise CheckpointError(
            f"variant {variant!r} has no released weights", reason="unknown-variant"
        )
    return filename


def official_url(variant: str) -> str:
    """Where the official file of ``variant`` can be downloaded (honours ``HF_ENDPOINT``)."""
    return hf_hub_url(REPO_ID, checkpoint_filename(variant), revision=REVISION)


def find_weights(variant: str) -> Path | None:
    """The local file for ``variant``: one placed in :func:`weights_dir`, else the one in
    the huggingface_hub cache, else None. Never touches the network."""
    filename = checkpoint_filename(variant)
    placed = weights_dir() / filename
    if placed.is_file():
        return placed
    cached = try_to_load_from_cache(REPO_ID, filename, revision=REVISION)
    if isinstance(cached, str) and os.path.isfile(cached):
        return Path(cached)
    return None


def require_weights(variant: str) -> Path:
    """Like :func:`find_weights`, but a missing file raises :class:`WeightsUnavailableError`
    saying which URL to download and where to save it. Never touches the network."""
    found = find_weights(variant)
    if found is None:
        raise _unavailable(
            variant, f"looked in {weights_dir()} and the Hugging Face cache; not downloading"
        )
    return found


@dataclass(frozen=True)
class WeightsInfo:
    """One row of ``etam-plugin weights list``."""

    variant: str
    image_size: int
    attention: str
    filename: str
    local_path: Path | None


def list_weights() -> list[WeightsInfo]:
    """Every variant with its file and where (if anywhere) that file is on this computer."""
    rows = []
    for variant in VARIANTS:
        config = get_config(variant)
        rows.append(
            WeightsInfo(
                variant=variant,
                image_size=config.image_size,
                attention=config.attention_mode,
                filename=checkpoint_filename(variant),
                local_path=find_weights(variant),
            )
        )
    return rows


def download_weights(
    variant: str,
    *,
    progress: bool = True,
    on_progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
    on_retry: RetryCallback | None = None,
) -> Path:
    """The local path of ``variant``'s official weights, downloading them if needed.

    A file already in :func:`weights_dir` or the cache is returned without a download.
    ``progress`` shows huggingface_hub's tqdm bar; ``on_progress`` receives byte counts (for
    a GUI); ``should_cancel`` is polled at each received chunk (10 MiB) and, when it returns
    True, stops the download, removes the partial file and raises :class:`CancelledError`.
    ``on_retry`` hears each of huggingface_hub's retries when the Hub cannot be reached
    (it retries for about 25 s before giving up, silently otherwise).
    Raises :class:`WeightsUnavailableError` (with the URL and the path to put the file at)
    when the Hub cannot be reached or refuses.
    """
    filename = checkpoint_filename(variant)
    found = find_weights(variant)
    if found is not None:
        return found
    if should_cancel is not None and should_cancel():
        raise CancelledError(f"download of {filename} cancelled")
    try:
        with _retries_told(on_retry, should_cancel):
            path = hf_hub_download(
                REPO_ID,
                filename,
                revision=REVISION,
                tqdm_class=_progress_class(progress, on_progress, should_cancel),
            )
    except CancelledError:
        raise
    except LocalEntryNotFoundError as exc:
        raise _unavailable(variant, _why_unreachable(exc)) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        why = f"the Hub answered HTTP {status} ({type(exc).__name__})"
        raise _unavailable(variant, why) from exc
    except OSError as exc:  # disk full, read-only cache, size check failed
        raise _unavailable(variant, f"the download failed: {exc}") from exc
    except Exception as exc:
        # Network errors come from huggingface_hub's HTTP library, which changed between
        # its major versions (requests, httpx, httpx2): recognise them by their module.
        if type(exc).__module__.split(".")[0] not in {"httpx", "httpx2", "requests", "urllib3"}:
            raise
        raise _unavailable(variant, f"the connection failed ({type(exc).__name__}: {exc})") from exc
    return Path(path)


class _RetryHandler(logging.Handler):
    """Turns huggingface_hub's retry log lines into one sentence per retry."""

    def __init__(
        self, on_retry: RetryCallback | None, should_cancel: Callable[[], bool] | None
    ) -> None:
        super().__init__(logging.WARNING)
        self._on_retry = on_retry
        self._should_cancel = should_cancel
        self._why = "the Hub cannot be reached"
        self._thread = threading.get_ident()  # this download's, not another thread's

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self._thread:
            return
        # Raised from here, a cancel ends huggingface_hub's retries at the next one (they
        # run between chunks, where the progress bar's cancel check cannot see them).
        if self._should_cancel is not None and self._should_cancel():
            raise CancelledError("download cancelled while waiting for the Hub")
        text = record.getMessage()
        thrown = _THROWN.search(text)
        if thrown:
            self._why = thrown.group("why") or thrown.group("http")
        retrying = _RETRYING.search(text)
        if retrying and self._on_retry is not None:
            wait = float(retrying.group("wait"))
            self._on_retry(
                f"{self._why}; retrying in {wait:g} s "
                f"(retry {retrying.group('k')} of {retrying.group('n')})"
            )


@contextlib.contextmanager
def _retries_told(
    on_retry: RetryCallback | None, should_cancel: Callable[[], bool] | None
) -> Iterator[None]:
    if on_retry is None and should_cancel is None:
        yield
        return
    handler = _RetryHandler(on_retry, should_cancel)
    logger = logging.getLogger(HF_HTTP_LOGGER)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def _progress_class(
    progress: bool,
    on_progress: ProgressCallback | None,
    should_cancel: Callable[[], bool] | None,
) -> type[hf_tqdm]:
    """A tqdm class for huggingface_hub that also reports bytes and checks for cancel."""

    class _Progress(hf_tqdm):
        def __init__(self, *args, **kwargs) -> None:
            if not progress:
                kwargs["disable"] = True
            self._done = int(kwargs.get("initial") or 0)
            super().__init__(*args, **kwargs)
            if on_progress is not None:
                on_progress(self._done, kwargs.get("total"))

        def update(self, n: float | None = 1) -> bool | None:
            if should_cancel is not None and should_cancel():
                raise CancelledError("download cancelled; the partial file was removed")
            self._done += int(n or 0)
            if on_progress is not None:
                on_progress(self._done, self.total)
            return super().update(n)

    return _Progress


def _why_unreachable(exc: LocalEntryNotFoundError) -> str:
    if getattr(constants, "HF_HUB_OFFLINE", False):
        return "offline mode is on (HF_HUB_OFFLINE=1), so they cannot be downloaded"
    cause = exc.__cause__
    detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
    return f"the Hub at {constants.ENDPOINT} could not be reached{detail}"


def _unavailable(variant: str, why: str) -> WeightsUnavailableError:
    url = official_url(variant)
    target = weights_dir() / checkpoint_filename(variant)
    return WeightsUnavailableError(
        f"the official weights for {variant!r} are not on this computer ({why}).\n"
        f"Download {url}\n"
        f"and save it as {target}\n"
        f"(or run `etam-plugin weights download {variant}` when online).",
        variant=variant,
        url=url,
        target=target,
    )


def resolve_checkpoint(path_or_variant: str | os.PathLike[str], *, download: bool = False) -> Path:
    """A checkpoint file to load: an existing file path as is, or a variant's weights.

    A variant name is looked up with :func:`find_weights`, then downloaded when
    ``download`` is True; otherwise :class:`WeightsUnavailableError` says where to get the
    file and where to put it. Anything else raises :class:`CheckpointError`.
    """
    if isinstance(path_or_variant, os.PathLike):
        return _existing_file(Path(path_or_variant))
    text = str(path_or_variant)
    if os.path.isfile(text):
        return Path(text)
    if text in VARIANTS:
        return download_weights(text) if download else require_weights(text)
    if os.sep in text or "/" in text or text.endswith((".pt", ".pth", ".bin")):
        return _existing_file(Path(text))
    checkpoint_filename(text)  # raises: unknown variant, listing the known ones
    raise AssertionError("unreachable")  # pragma: no cover


def _existing_file(path: Path) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is a folder; give the path of the .pt file inside it.",
            path=path,
            reason="directory",
        )
    raise CheckpointError(f"checkpoint {path} does not exist.", path=path, reason="missing")
