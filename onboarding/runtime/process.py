"""How every console script ends: with its own exit code, always, and quietly into a closed pipe.

Temporal hazard. The SDK's client and worker run on a Rust (Tokio) thread pool that hands each
result back to Python from one of its own threads. When ``asyncio.run`` returns, the last such
thread can still be inside its short Python section (it has just woken the event loop and has not
yet given the interpreter back). If the interpreter is finalizing by then, that thread aborts the
whole process: ``Fatal Python error: PyGILState_Release ... finalizing``, exit 134 (SIGABRT) or
139 (SIGSEGV), after the command did its work. A script that reads the exit code (a billing
redelivery, a cron job) would then redo or alert on a command that succeeded.

The runtime offers no way to stop those threads before the interpreter tears down, so a console
script must not tear the interpreter down at all: :func:`run_console_script` runs the command,
then does everything a normal exit does that anyone can notice (the ``atexit`` handlers, which
flush OpenTelemetry spans and logging handlers; flushing stdout and stderr) and ends the process
with :func:`os._exit` and the command's code. Nothing is lost: the process is about to end, and
the operating system reclaims the rest.

A reader that stops early (``onboarding show ... | head``) closes the pipe; the rest of the output
is discarded (never a ``BrokenPipeError`` traceback) and the command still finishes its work and
exits with its own code.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TextIO

#: The exit code of a command stopped with Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class PipeSafeStream:
    """A text stream that stops writing, silently, once its reader has gone away.

    After the first ``BrokenPipeError`` the underlying file descriptor points at ``/dev/null``,
    so whatever is still buffered, and everything written later, goes nowhere.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        """Write ``text``, or drop it when the reader has gone."""
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._discard_from_now_on()
        return len(text)

    def flush(self) -> None:
        """Flush, or do nothing when the reader has gone."""
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._discard_from_now_on()

    def _discard_from_now_on(self) -> None:
        self.reader_gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _exit_code(value: object) -> int:
    """The process exit code of ``sys.exit(value)``, as the interpreter would compute it."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` without finalizing the interpreter (see the module's notes).

    The ``atexit`` handlers run first, while the interpreter is whole; then stdout and stderr
    are flushed (a closed pipe is ignored).
    """
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def run_console_script(main: Callable[[], int | None]) -> NoReturn:
    """Run a console script's ``main`` and end the process with its exit code.

    ``sys.exit`` (argparse's exit 2 included) and Ctrl-C (130) keep their usual codes; an
    unexpected exception prints its traceback and exits 1, as Python would.
    """
    if not isinstance(sys.stdout, PipeSafeStream):
        sys.stdout = PipeSafeStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, PipeSafeStream):
        sys.stderr = PipeSafeStream(sys.stderr)  # type: ignore[assignment]
    try:
        code = _exit_code(main())
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BaseException:
        traceback.print_exc()
        code = 1
    exit_process(code)


@contextlib.contextmanager
def sigterm_ends_quietly() -> Iterator[None]:
    """Inside this block, a server stopped by SIGTERM returns instead of dying of the signal.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again under the handler
    it found, so that the process dies of it (exit 143). With a handler that does nothing in
    place, uvicorn returns after its graceful shutdown and the script exits 0.
    """
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
