"""A child process in its own process group, its output streamed line by line to a callback.

Both build operators run a command this way (the ``depot`` CLI, a user's ``bash_command``).
The output is read by a daemon thread, so a child that writes a lot cannot block on a full
pipe, and the task's main thread only waits for the exit.

Stopping is split for the sake of ``on_kill``, which Airflow calls from the task's SIGTERM
handler on the main thread, possibly while that thread is inside ``wait()``: there,
``request_stop`` only sends signals (to the whole group, the command's own children too) and
arms a timer for SIGKILL; it never waits, since waiting for a child from inside its own
``wait()`` deadlocks on Popen's lock. The interrupted ``wait()`` then returns as usual.

A task killed outright (SIGKILL, an OOM kill) gets no say, and its child, in a process group of
its own, would live on: the CLI reporting health for ever, a bash_command holding the builder's
credentials. So the child is started through util-linux ``setpriv --pdeathsig TERM`` (the kernel
sends it SIGTERM when the task's thread that started it dies), and ``bash_argv`` runs a command
under a bash that, on SIGTERM, stops its whole group (SIGKILL 2 s later). Without ``setpriv``
(not Linux, no util-linux) that protection is missing, which is logged.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LineSink = Callable[[str], None]
TAIL_LINES = 50
# Credentials of the worker a build command has no business with: Depot settings of its own
# (a stray DEPOT_TOKEN would redirect the build) and Airflow connections/variables from the
# environment (AIRFLOW_CONN_DEPOT_DEFAULT holds the organization token).
_WITHHELD_PREFIXES = ("DEPOT_", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
# Runs "$1" with bash; on SIGTERM (from setpriv's parent-death signal, or from request_stop)
# it signals its whole process group, then kills it 2 s later. The trap is reset first, so the
# group's SIGTERM does not re-enter it.
_GROUP_GUARD = 'trap \'trap - TERM; kill -TERM 0; sleep 2; kill -KILL 0\' TERM; bash -c "$1" & wait $!'
logger = logging.getLogger(__name__)


def bash_argv(command: str) -> list[str]:
    """``bash -c command``, under a bash that takes its process group down with it (see above)."""
    return ["bash", "-c", _GROUP_GUARD, "depot-command", command]


def _parent_death_guard() -> list[str]:
    """``setpriv --pdeathsig TERM --`` where that exists (Linux with util-linux), else nothing."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        logger.warning("setpriv (util-linux) not found: a command outlives its task if the task is SIGKILLed")
        return []
    return [setpriv, "--pdeathsig", "TERM", "--"]


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
            [*_parent_death_guard(), *self._argv],
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
