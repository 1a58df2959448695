"""A child process in its own process group, its output streamed line by line to a callback.

Both build operators run a command this way (the ``depot`` CLI, a user's ``bash_command``).
The output is read by a daemon thread, so a child that writes a lot cannot block on a full
pipe, and the task's main thread only waits for the exit.

Stopping is split for the sake of ``on_kill``, which Airflow calls from the task's SIGTERM
handler on the main thread, possibly while that thread is inside ``wait()``: there,
``request_stop`` only sends signals (to the whole group, the command's own children too) and
arms a timer for SIGKILL; it never waits, since waiting for a child from inside its own
``wait()`` deadlocks on Popen's lock. The interrupted ``wait()`` then returns as usual.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LineSink = Callable[[str], None]
TAIL_LINES = 50
# Credentials of the worker a build command has no business with: Depot settings of its own
# (a stray DEPOT_TOKEN would redirect the build) and Airflow connections/variables from the
# environment (AIRFLOW_CONN_DEPOT_DEFAULT holds the organization token).
_WITHHELD_PREFIXES = ("DEPOT_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")


def inherited_environment() -> dict[str, str]:
    """The worker's environment without the variables in ``_WITHHELD_PREFIXES``."""
    return {key: value for key, value in os.environ.items() if not key.startswith(_WITHHELD_PREFIXES)}


class StreamedProcess:
    """``start()``, then ``wait()`` for the exit status; ``request_stop()`` from anywhere."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        on_line: LineSink,
    ) -> None:
        self._argv = list(argv)
        self._env = dict(env)
        self._cwd = cwd
        self._on_line = on_line
        self._process: subprocess.Popen[bytes] | None = None
        self._pump: threading.Thread | None = None
        self.stopped = False  # request_stop() was called: the exit status is ours, not the command's
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)  # the last lines

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Started and not yet reaped (read without Popen's lock: safe in a signal handler)."""
        return self._process is not None and self._process.returncode is None

    def start(self) -> None:
        self._process = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=self._cwd,
            start_new_session=True,
        )
        self._pump = threading.Thread(
            target=self._read_output, name=f"output-{self._process.pid}", daemon=True
        )
        self._pump.start()

    def _read_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        with self._process.stdout as stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.tail.append(line)
                self._on_line(line)

    def wait(self) -> int:
        """The exit status (negative: killed by that signal), once the output is drained too.

        If it was stopped, whatever of its process group outlived it is killed as well.
        """
        if self._process is None:
            raise RuntimeError("the process was not started")
        status = self._process.wait()
        if self.stopped:
            self._signal_group(signal.SIGKILL)
        if self._pump is not None:
            # A grandchild that inherited the pipe may hold it open; do not wait for it forever.
            self._pump.join(timeout=5)
        return status

    def request_stop(self, grace: float, first_signal: signal.Signals = signal.SIGTERM) -> None:
        """Send ``first_signal`` to the process group now and SIGKILL it after ``grace`` seconds
        unless it has exited by then. Returns at once; safe to repeat."""
        if not self.running or self.stopped:
            return
        self.stopped = True
        self._signal_group(first_signal)
        timer = threading.Timer(grace, self._kill_if_running)
        timer.daemon = True
        timer.start()

    def _kill_if_running(self) -> None:
        if self.running:
            self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)


def run_to_completion(process: StreamedProcess, *, grace: float) -> int:
    """Start ``process`` and wait for it; if the wait is interrupted by an exception (a timeout,
    KeyboardInterrupt), stop the process, wait for it, and re-raise."""
    process.start()
    try:
        return process.wait()
    except BaseException:
        process.request_stop(grace)
        process.wait()
        raise


def describe_exit(status: int) -> str:
    """``exited with status 2`` or ``was killed by SIGTERM``."""
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"
