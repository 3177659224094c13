"""The AES-256-GCM payload codec: round trip, key rotation, configuration, the data converter."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter

from onboarding.domain.run import TriggerSource
from onboarding.runtime.client import data_converter
from onboarding.security.codec import (
    ENCODING,
    ENV_VAR,
    KEY_ID_METADATA,
    CodecKeyError,
    EncryptionCodec,
    codec_from_env,
    generate_key_spec,
    parse_keys,
)

OLD = ("k2025", os.urandom(32))
NEW = ("k2026", os.urandom(32))


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_hides_data_and_metadata() -> None:
    codec = EncryptionCodec([NEW])
    original = [plain('{"email": "pat@acme.example"}'), plain("[]")]
    encoded = await codec.encode(original)
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA] == b"k2026"
        assert b"pat@acme" not in payload.data and b"json/plain" not in payload.data
    assert await codec.decode(encoded) == original
    again = await codec.encode(original)
    assert again[0].data != encoded[0].data, "a fresh nonce per payload"


async def test_rotation_decodes_old_payloads_and_encrypts_with_the_new_key() -> None:
    old_codec = EncryptionCodec([OLD])
    written_before = await old_codec.encode([plain('"before rotation"')])
    rotated = EncryptionCodec([NEW, OLD])
    assert rotated.current_key_id == "k2026"
    assert await rotated.decode(written_before) == [plain('"before rotation"')]
    written_after = await rotated.encode([plain('"after"')])
    assert written_after[0].metadata[KEY_ID_METADATA] == b"k2026"
    with pytest.raises(CodecKeyError, match="encrypted with key 'k2026', which is not in"):
        await old_codec.decode(written_after)


async def test_tampered_and_unencrypted_payloads() -> None:
    codec = EncryptionCodec({"k": os.urandom(32)})
    encoded = (await codec.encode([plain("1")]))[0]
    tampered = Payload(
        metadata=dict(encoded.metadata), data=encoded.data[:-1] + bytes([encoded.data[-1] ^ 1])
    )
    with pytest.raises(CodecKeyError, match="wrong key material or tampered"):
        await codec.decode([tampered])
    same_id_other_key = EncryptionCodec({"k": os.urandom(32)})
    with pytest.raises(CodecKeyError, match="does not decrypt with key 'k'"):
        await same_id_other_key.decode([encoded])
    # Payloads written before encryption was enabled still read.
    assert await codec.decode([plain("2")]) == [plain("2")]


def test_key_ring_from_configuration() -> None:
    new, old = generate_key_spec("k2026"), generate_key_spec("k2025")
    codec = codec_from_env({ENV_VAR: f" {new} , {old} "})
    assert codec is not None and codec.key_ids == ["k2026", "k2025"]
    assert codec_from_env({}) is None
    assert codec_from_env({ENV_VAR: " "}) is None
    urlsafe = base64.urlsafe_b64encode(b"\xfb" * 32).decode().rstrip("=")
    assert parse_keys(f"u:{urlsafe}") == [("u", b"\xfb" * 32)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nokey", "entry 1 is not <key-id>:<base64 key>"),
        (":" + base64.b64encode(bytes(32)).decode(), "key ID must be"),
        ("k:not base64!", "key 'k' is not valid base64"),
        ("k:" + base64.b64encode(bytes(16)).decode(), "key 'k' is 16 bytes; AES-256 needs 32"),
        (
            "k:"
            + base64.b64encode(bytes(32)).decode()
            + ",k:"
            + base64.b64encode(bytes(32)).decode(),
            "key ID 'k' appears twice",
        ),
    ],
)
def test_bad_key_rings_are_refused_without_echoing_keys(spec: str, message: str) -> None:
    with pytest.raises(CodecKeyError, match=message) as caught:
        codec_from_env({ENV_VAR: spec})
    assert base64.b64encode(bytes(32)).decode() not in str(caught.value)


async def test_data_converter_encrypts_only_when_keys_are_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = TriggerSource(system="crm", event_type="deal.closed_won", object_id="881")
    monkeypatch.delenv(ENV_VAR, raising=False)
    plain = await data_converter().encode([source])
    assert plain[0].metadata["encoding"] == b"json/plain"
    monkeypatch.setenv(ENV_VAR, generate_key_spec("k1"))
    converter = data_converter()
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class
    encoded = await converter.encode([source])
    assert encoded[0].metadata["encoding"] == ENCODING
    assert await converter.decode(encoded, [TriggerSource]) == [source]
    monkeypatch.setenv(ENV_VAR, "k1:short")
    with pytest.raises(CodecKeyError):
        data_converter()
    # A process without keys reads plain payloads and names the variable for encrypted ones.
    monkeypatch.delenv(ENV_VAR)
    assert await data_converter().decode(plain, [TriggerSource]) == [source]
    with pytest.raises(CodecKeyError, match=f"payloads are encrypted .*set {ENV_VAR}"):
        await data_converter().decode(encoded, [TriggerSource])
