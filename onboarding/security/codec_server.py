"""``onboarding-codec-server``: the Remote Codec Endpoint for the Temporal Web UI and CLI.

The UI (and ``temporal workflow show --codec-endpoint ... --codec-auth "Bearer <token>"``) posts
the JSON form of ``temporal.api.common.v1.Payloads`` (``{"payloads": [{"metadata": {k: base64},
"data": base64}]}``) to ``/decode`` (and ``/encode``) and shows what comes back. The keys never
leave this process.

Who may call it, two ways:

* **Bearer tokens** (``CODEC_SERVER_TOKEN``): for the ``temporal`` CLI, scripts, and a shared UI
  whose requests carry one (the Temporal UI sends ``Authorization`` only with its
  ``codec.passAccessToken`` setting, which forwards the signed-in user's OIDC access token; it
  cannot be given a fixed token).
* **Local only** (``--local-only``): no token, for a UI running on the same machine, such as the
  dev server's. The server then listens on a loopback address only, answers only requests
  addressed to ``127.0.0.1`` or ``localhost`` (so a web page cannot reach it by DNS rebinding),
  and browsers only from the UI origins allowed by CORS.

Configuration (environment):
    ONBOARDING_CODEC_KEYS: The key ring (see :mod:`onboarding.security.codec`); required.
    CODEC_SERVER_TOKEN: Accepted bearer token(s), comma-separated for rotation; required unless
        ``--local-only`` is given.
    CODEC_CORS_ORIGINS: Origins allowed to call from a browser, comma-separated (default: the
        dev server's UI, ``http://127.0.0.1:8233`` and ``http://localhost:8233``).
"""

from __future__ import annotations

import argparse
import hmac
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from onboarding.runtime.process import run_console_script, sigterm_ends_quietly
from onboarding.security.codec import CodecKeyError, EncryptionCodec, codec_from_env

#: The dev server's Web UI, under both names a person types.
DEFAULT_CORS_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")
#: The only hosts a local-only codec server answers for.
LOCAL_NAMES = ("127.0.0.1", "localhost")
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
ALLOWED_HEADERS = ("Authorization", "Content-Type", "X-Namespace")


def _token_ok(request: Request, tokens: Sequence[str]) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    given = credentials.strip().encode("utf-8")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given, token.encode("utf-8"))
    return matched


def create_codec_app(
    codec: EncryptionCodec,
    *,
    tokens: Sequence[str] | None,
    cors_origins: Sequence[str] = DEFAULT_CORS_ORIGINS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Starlette:
    """The codec server as an ASGI app.

    Args:
        codec: The codec whose ``encode``/``decode`` the endpoints apply.
        tokens: Accepted bearer tokens; None is the local-only mode: no token, and only
            requests addressed to a loopback name are answered.
        cors_origins: Browser origins allowed to call (the Web UI's origin).
        max_body_bytes: Largest accepted request body.
    """
    accepted = [t for t in (tokens or []) if t]
    if tokens is not None and not accepted:
        raise ValueError("the codec server needs at least one non-empty token (or tokens=None)")

    async def apply(request: Request, decode: bool) -> Response:
        if tokens is not None and not _token_ok(request, accepted):
            return JSONResponse(
                {"error": "a valid bearer token is required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await request.body()
        if len(body) > max_body_bytes:
            return JSONResponse(
                {"error": f"body larger than {max_body_bytes} bytes"}, status_code=413
            )
        try:
            payloads = json_format.Parse(body, Payloads())
        except (json_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
            return JSONResponse(
                {"error": f"body is not the JSON form of Payloads: {exc}"}, status_code=400
            )
        try:
            if decode:
                result = await codec.decode(payloads.payloads)
            else:
                result = await codec.encode(payloads.payloads)
        except CodecKeyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return Response(
            json_format.MessageToJson(Payloads(payloads=result)),
            media_type="application/json",
        )

    async def decode(request: Request) -> Response:
        return await apply(request, decode=True)

    async def encode(request: Request) -> Response:
        return await apply(request, decode=False)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "keys": codec.key_ids})

    return Starlette(
        routes=[
            Route("/decode", decode, methods=["POST"]),
            Route("/encode", encode, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["POST"],
                allow_headers=list(ALLOWED_HEADERS),
                allow_credentials=True,
                max_age=600,
            ),
            # Local only: a page whose name resolves to 127.0.0.1 (DNS rebinding) would be
            # "same origin" to the browser; its requests carry its own name, and are refused.
            *(
                [Middleware(TrustedHostMiddleware, allowed_hosts=list(LOCAL_NAMES))]
                if tokens is None
                else []
            ),
        ],
    )


def ui_origins(ui_port: int) -> list[str]:
    """The browser origins of a Web UI on this machine at ``ui_port``, under both its names."""
    return [f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]


class RunningCodecServer:
    """A codec server in a background thread (the demo runs one beside the dev server's UI).

    The socket is bound at construction, so its URL is known before the app is: the dev server
    needs the endpoint before its UI port (and so the CORS origins) is known.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self._sock.listen(64)
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, app: Starlette, *, timeout: float = 10.0) -> None:
        """Serve ``app`` on the bound socket; return once it accepts connections."""
        import uvicorn

        config = uvicorn.Config(
            app, log_level="warning", server_header=False, timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name="codec-server",
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the codec server did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._sock.close()


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the codec server with uvicorn until interrupted.

    Returns:
        The exit status: 0 after a clean shutdown (SIGINT or SIGTERM), 2 on a configuration
        error.
    """
    parser = argparse.ArgumentParser(
        prog="onboarding-codec-server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default: 8081)")
    parser.add_argument(
        "--local-only",
        "--no-auth",
        dest="local_only",
        action="store_true",
        help="no token, for a Web UI on this machine: loopback only (127.0.0.1 or localhost)",
    )
    args = parser.parse_args(argv)
    try:
        codec = codec_from_env()
    except CodecKeyError as exc:
        print(f"onboarding-codec-server: {exc}", file=sys.stderr)
        return 2
    if codec is None:
        print("onboarding-codec-server: set ONBOARDING_CODEC_KEYS", file=sys.stderr)
        return 2
    tokens = _split(os.environ.get("CODEC_SERVER_TOKEN"))
    if args.local_only and args.host not in LOCAL_NAMES:
        print(
            f"onboarding-codec-server: --local-only listens on 127.0.0.1 or localhost only, "
            f"not {args.host}; elsewhere, set CODEC_SERVER_TOKEN",
            file=sys.stderr,
        )
        return 2
    if not tokens and not args.local_only:
        print(
            "onboarding-codec-server: set CODEC_SERVER_TOKEN (or pass --local-only for a Web UI "
            "on this machine)",
            file=sys.stderr,
        )
        return 2
    origins = _split(os.environ.get("CODEC_CORS_ORIGINS")) or list(DEFAULT_CORS_ORIGINS)
    app = create_codec_app(codec, tokens=None if args.local_only else tokens, cors_origins=origins)

    import uvicorn

    with sigterm_ends_quietly():
        uvicorn.run(app, host=args.host, port=args.port, server_header=False)
    return 0


def script() -> NoReturn:
    """The installed ``onboarding-codec-server`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
