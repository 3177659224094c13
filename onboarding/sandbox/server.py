"""Running the sandbox with uvicorn: in a background thread, or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn

from onboarding.sandbox.app import create_app

_START_TIMEOUT = 10.0


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (``port=0`` picks a free port).

    Args:
        host: The interface to bind.
        port: The port, or 0.

    Returns:
        The bound socket.

    Raises:
        OSError: When the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def url_for(host: str, port: int) -> str:
    """Return the base URL of a server.

    Args:
        host: The bound host.
        port: The bound port.

    Returns:
        ``http://host:port`` (IPv6 hosts in brackets).
    """
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class SandboxServer(uvicorn.Server):
    """A uvicorn server that calls ``on_started`` once it accepts connections.

    Args:
        config: The uvicorn configuration.
        on_started: Called once, right after startup succeeded.
    """

    def __init__(
        self, config: uvicorn.Config, on_started: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then report readiness.

        Args:
            sockets: Pre-bound listening sockets.
        """
        await super().startup(sockets=sockets)
        if self.started and self.on_started is not None:
            self.on_started()


def make_server(
    db_path: str,
    sock: socket.socket,
    log_level: str = "warning",
    access_log: bool = False,
    on_started: Callable[[], None] | None = None,
    tokens: dict[str, str] | None = None,
    hubspot_search_lag: float | None = None,
) -> SandboxServer:
    """Build a uvicorn server for the sandbox app.

    Args:
        db_path: The SQLite file.
        sock: The listening socket (used to pick the server's host and port).
        log_level: uvicorn's log level.
        access_log: Whether uvicorn logs every request.
        on_started: Called once the server accepts connections.
        tokens: Credential overrides (see :func:`onboarding.sandbox.app.create_app`).
        hubspot_search_lag: Seconds HubSpot's search lags writes (None: the environment's).

    Returns:
        The (not yet started) server.
    """
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        create_app(db_path, tokens, hubspot_search_lag=hubspot_search_lag),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    return SandboxServer(config, on_started)


class RunningSandbox:
    """A sandbox server running in a background thread.

    Use :func:`run_in_thread` to start one; it works as a context manager.

    Args:
        db_path: The SQLite file.
        host: The interface to bind.
        port: The port (0 picks a free one).
        tokens: Credential overrides (see :func:`onboarding.sandbox.app.create_app`).
    """

    def __init__(
        self,
        db_path: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, str] | None = None,
    ) -> None:
        self.db_path = db_path
        self._sock = bind_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self.base_url = url_for(self.host, self.port)
        self._server = make_server(db_path, self._sock, tokens=tokens)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self) -> RunningSandbox:
        """Start the server and wait until it accepts connections.

        Returns:
            This object.

        Raises:
            RuntimeError: When the server does not come up in time.
        """
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError(f"sandbox failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("sandbox did not start in time")
            time.sleep(0.01)
        with socket.create_connection((self.host, self.port), timeout=_START_TIMEOUT):
            pass
        return self

    def stop(self) -> None:
        """Stop the server and wait for its thread (closes the database)."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=_START_TIMEOUT)
        self._sock.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_in_thread(
    db_path: str,
    host: str = "127.0.0.1",
    port: int = 0,
    tokens: dict[str, str] | None = None,
) -> RunningSandbox:
    """Start the sandbox in a background thread on a free port.

    Args:
        db_path: The SQLite file holding the sandbox's data.
        host: The interface to bind.
        port: The port; 0 picks a free one.
        tokens: Credential overrides (see :func:`onboarding.sandbox.app.create_app`).

    Returns:
        The running sandbox (``.base_url``, ``.stop()``; also a context manager).
    """
    return RunningSandbox(db_path, host, port, tokens).start()
