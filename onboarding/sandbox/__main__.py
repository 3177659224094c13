"""Command line: ``python -m onboarding.sandbox [--host H] [--port P] [--db PATH]``."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from onboarding.runtime.process import run_console_script, sigterm_ends_quietly
from onboarding.sandbox.server import bind_socket, make_server, url_for

_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {value!r} (expected 0-65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port: {port} (expected 0-65535)")
    return port


def build_parser() -> argparse.ArgumentParser:
    """Build the command-line parser.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m onboarding.sandbox",
        description="Serve local copies of the HubSpot, Asana, Zendesk, Resend, Calendly "
        "and Slack webhook APIs for offline runs and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port to listen on; 0 picks a free one (8765)"
    )
    parser.add_argument(
        "--db",
        default="var/sandbox.sqlite3",
        help="SQLite file holding the sandbox state (var/sandbox.sqlite3)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=_LOG_LEVELS, help="uvicorn log level (warning)"
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--hubspot-search-lag",
        type=float,
        default=None,
        metavar="SECONDS",
        help="HubSpot search sees writes this late, as the real index does "
        "(default: SANDBOX_HUBSPOT_SEARCH_LAG, else 0)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox in the foreground until interrupted.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 after a clean stop, 1 when the server cannot start.
        Bad arguments exit with status 2 (argparse).
    """
    args = build_parser().parse_args(argv)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]

    def announce() -> None:
        print(f"sandbox listening on {url_for(host, port)}", flush=True)

    try:
        server = make_server(
            args.db,
            sock,
            log_level=args.log_level,
            access_log=args.access_log,
            on_started=announce,
            hubspot_search_lag=args.hubspot_search_lag,
        )
    except Exception as exc:
        sock.close()
        print(f"sandbox: cannot open database {args.db}: {exc}", file=sys.stderr)
        return 1
    # uvicorn re-raises the signal that stopped it: SIGTERM ends quietly, SIGINT's default
    # handler raises KeyboardInterrupt, caught below. Both are a clean stop.
    try:
        with sigterm_ends_quietly():
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sock.close()
    return 0


def script() -> NoReturn:
    """The installed ``onboarding-sandbox`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
