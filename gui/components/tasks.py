"""Slow chores that touch neither the session nor the viewer's decoder: downloading weights
and reading editing timelines. They run in the panel's task worker so the GUI never waits
and the inference worker stays free for clicks."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from etam_plugin.gui.components import messages as m

Emit = Callable[[object], None]
PROGRESS_EVERY_S = 0.1


class TaskBackend:
    def handle(self, request: object, emit: Emit) -> None:
        """Serve ``request``; failures (a cancel too) come back as :class:`messages.Failed`."""
        try:
            if isinstance(request, m.DownloadWeights):
                self._download(request, emit)
            elif isinstance(request, m.ReadTimeline):
                from etam_plugin.timeline import read_timeline

                clips = read_timeline(request.path, rate=request.rate)
                emit(m.TimelineRead(request.path, tuple(clips)))
            else:
                raise TypeError(f"the task worker cannot serve {type(request).__name__}")
        except Exception as exc:
            emit(m.Failed(request, exc, traceback.format_exc()))

    def close(self) -> None:
        pass

    def _download(self, request: m.DownloadWeights, emit: Emit) -> None:
        from etam_plugin.weights import download_weights

        last = [0.0]

        def on_progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or (total is not None and done >= total):
                last[0] = now
                emit(m.DownloadProgress(request.variant, done, total))

        path = download_weights(
            request.variant,
            progress=False,
            on_progress=on_progress,
            should_cancel=request.cancel.is_set,
            on_retry=lambda text: emit(m.DownloadRetrying(request.variant, text)),
        )
        emit(m.WeightsReady(request.variant, path))
