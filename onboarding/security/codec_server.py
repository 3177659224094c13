"""``onboarding-codec-server``: the Remote Codec Endpoint for the Temporal Web UI and CLI.

The UI (and ``temporal workflow show --codec-endpoint ... --codec-auth "Bearer <token>"``) posts
the JSON form of ``temporal.api.common.v1.Payloads`` (``{"payloads": [{"metadata": {k: base64},
"data": base64}]}``) to ``/decode`` (and ``/encode``) and shows what comes back. Only holders of
the bearer token get plain text; the keys never leave this process.

Configuration (environment):
    ONBOARDING_CODEC_KEYS: The key ring (see :mod:`security.codec`); required.
    CODEC_SERVER_TOKEN: Accepted bearer token(s), comma-separated for rotation; required unless
        ``--no-auth`` is given (local development only).
    CODEC_CORS_ORIGINS: Origins allowed to call from a browser, comma-separated
        (default ``http://localhost:8233``, the dev server's UI).
"""

from __future__ import annotations

import argparse
import hmac
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from onboarding.runtime.process import run_console_script, sigterm_ends_quietly
from onboarding.security.codec import CodecKeyError, EncryptionCodec, codec_from_env

DEFAULT_CORS_ORIGINS = ("http://localhost:8233",)
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
        tokens: Accepted bearer tokens; None disables authentication (local development only).
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
            )
        ],
    )


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the codec server with uvicorn until interrupted.

    Returns:
        The exit status: 0 after a clean shutdown, 2 on a configuration error.
    """
    parser = argparse.ArgumentParser(
        prog="onboarding-codec-server",
        description="Temporal Remote Codec Endpoint for the onboarding payloads.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without a bearer token (local development only)",
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
    if not tokens and not args.no_auth:
        print(
            "onboarding-codec-server: set CODEC_SERVER_TOKEN (or pass --no-auth for local use)",
            file=sys.stderr,
        )
        return 2
    origins = _split(os.environ.get("CODEC_CORS_ORIGINS")) or list(DEFAULT_CORS_ORIGINS)
    app = create_codec_app(codec, tokens=None if args.no_auth else tokens, cors_origins=origins)

    import uvicorn

    with sigterm_ends_quietly():
        uvicorn.run(app, host=args.host, port=args.port, server_header=False)
    return 0


def script() -> NoReturn:
    """The installed ``onboarding-codec-server`` command: :func:`main`, then exit with its code."""
    run_console_script(main)


if __name__ == "__main__":
    script()
