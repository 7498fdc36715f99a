"""Stop a long run cleanly: on SIGTERM or Ctrl-C, finish the step, checkpoint, then stop.

Without this, ``kill`` (a scheduler's time limit, Binder culling an idle kernel, ``docker stop``)
ends the process at once and everything since the last checkpoint is lost, and Ctrl-C raises
``KeyboardInterrupt`` in the middle of a step. :func:`sgan_experiments.training.run_training` wraps
its loop in :class:`StopRequests`: a signal only sets a flag, the loop checks it after each step,
saves a checkpoint at that step, notes the session as stopped and raises ``KeyboardInterrupt``
(so the command line prints its "interrupted ... --resume" line). A second Ctrl-C stops at once.

A signal whose handler is ``SIG_IGN`` stays ignored: a job started with ``&`` from a script
ignores SIGINT by convention, and ``nohup``-style launchers rely on that.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests:
    """Context manager: while active, SIGTERM/SIGINT set :attr:`requested` instead of killing.

    Handlers are installed only in the main thread (Python allows no other) and restored on exit.
    """

    def __init__(self) -> None:
        self.requested: str | None = None  # the signal's name, once one arrived
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN or previous is None:  # None: set outside Python, keep it
                continue
            self._previous[sig] = previous
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user does not want to wait
        self.requested = signal.Signals(signum).name

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
