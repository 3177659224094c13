"""The codec server: bearer token, CORS for the Web UI, the JSON form of Payloads."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator

import httpx
import pytest

from onboarding.security.codec import EncryptionCodec, generate_key_spec
from onboarding.security.codec_server import create_codec_app, ui_origins
from onboarding.security.codec_server import main as codec_server_main

TOKEN = "codec-token-for-tests"
UI = "http://localhost:8233"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_codec_app(EncryptionCodec([("k1", os.urandom(32))]), tokens=[TOKEN])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        yield client


def payloads_json(*texts: str) -> dict[str, list[dict[str, object]]]:
    return {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(text.encode()).decode(),
            }
            for text in texts
        ]
    }


AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"}


async def test_encode_then_decode_round_trips(http: httpx.AsyncClient) -> None:
    original = payloads_json('{"email":"pat@acme.example"}', "42")
    encoded = await http.post("/encode", json=original, headers=AUTH)
    assert encoded.status_code == 200
    body = encoded.json()
    assert len(body["payloads"]) == 2
    assert base64.b64decode(body["payloads"][0]["metadata"]["encoding"]) == b"binary/encrypted"
    assert b"pat@acme" not in base64.b64decode(body["payloads"][0]["data"])
    decoded = await http.post("/decode", json=body, headers=AUTH)
    assert decoded.status_code == 200
    assert decoded.json() == original


async def test_a_bearer_token_is_required(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = await http.post("/decode", json=payloads_json("1"), headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "a valid bearer token is required"}
        assert response.headers["www-authenticate"] == "Bearer"


async def test_cors_preflight_and_responses_for_the_ui(http: httpx.AsyncClient) -> None:
    preflight = await http.options(
        "/decode",
        headers={
            "Origin": UI,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == UI
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert "POST" in preflight.headers["access-control-allow-methods"]
    response = await http.post("/decode", json=payloads_json("1"), headers={**AUTH, "Origin": UI})
    assert response.headers["access-control-allow-origin"] == UI
    refused = await http.options(
        "/decode",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_bad_bodies_and_unknown_keys_are_client_errors(http: httpx.AsyncClient) -> None:
    response = await http.post("/decode", content=b"{not json", headers=AUTH)
    assert response.status_code == 400
    assert "not the JSON form of Payloads" in response.json()["error"]
    foreign = EncryptionCodec([("elsewhere", os.urandom(32))])
    other_app = create_codec_app(foreign, tokens=[TOKEN])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other_app), base_url="http://other"
    ) as other:
        encoded = (await other.post("/encode", json=payloads_json("1"), headers=AUTH)).json()
    unknown = await http.post("/decode", content=json.dumps(encoded), headers=AUTH)
    assert unknown.status_code == 422
    assert "key 'elsewhere', which is not in the key ring" in unknown.json()["error"]


async def test_the_default_origins_are_the_dev_server_ui_under_both_names() -> None:
    app = create_codec_app(EncryptionCodec([("k1", os.urandom(32))]), tokens=[TOKEN])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec"
    ) as http:
        for origin, allowed in (
            ("http://127.0.0.1:8233", True),
            ("http://localhost:8233", True),
            ("http://127.0.0.1:9999", False),
        ):
            preflight = await http.options(
                "/decode",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace",
                },
            )
            assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed
    assert ui_origins(28233) == ["http://127.0.0.1:28233", "http://localhost:28233"]


async def test_local_only_mode_needs_no_token_and_answers_loopback_names_only() -> None:
    app = create_codec_app(EncryptionCodec([("k1", os.urandom(32))]), tokens=None)
    transport = httpx.ASGITransport(app=app)
    for host in ("http://127.0.0.1:8081", "http://localhost:8081"):
        async with httpx.AsyncClient(transport=transport, base_url=host) as http:
            encoded = await http.post("/encode", json=payloads_json("1"))
            assert encoded.status_code == 200, host
    # A page on another name that resolves to 127.0.0.1 (DNS rebinding) is refused.
    async with httpx.AsyncClient(transport=transport, base_url="http://rebound.example") as http:
        assert (await http.post("/decode", json=payloads_json("1"))).status_code == 400


def test_local_only_mode_refuses_to_listen_beyond_this_machine(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ONBOARDING_CODEC_KEYS", generate_key_spec("k1"))
    monkeypatch.delenv("CODEC_SERVER_TOKEN", raising=False)
    assert codec_server_main(["--local-only", "--host", "0.0.0.0"]) == 2
    assert "--local-only listens on 127.0.0.1 or localhost only" in capsys.readouterr().err
    assert codec_server_main([]) == 2
    assert "set CODEC_SERVER_TOKEN (or pass --local-only" in capsys.readouterr().err
