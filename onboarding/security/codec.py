"""End-to-end encryption of every payload Temporal stores: AES-256-GCM with a key ring.

Workflow inputs, results, activity arguments, signals and queries carry the contact's name and
email; with this codec the Temporal service (and anyone reading its database or its Web UI without
the codec server) sees only ciphertext. Search attributes are not payloads and stay in clear text.

Keys come from configuration only, ``ONBOARDING_CODEC_KEYS``::

    ONBOARDING_CODEC_KEYS="k2026b:<base64 of 32 bytes>,k2026a:<base64 of 32 bytes>"

The first key is the current one (every new payload is encrypted with it); the others still
decrypt what they encrypted. To rotate, put a new key first and keep the old ones until no open
run or retained history needs them. The payload format (``encoding: binary/encrypted``, metadata
``encryption-key-id``, data ``nonce(12) || ciphertext+tag``) is the one of Temporal's encryption
sample, so its codec servers and CLI tooling interoperate.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENV_VAR = "ONBOARDING_CODEC_KEYS"
ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12
KEY_BYTES = 32

_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CodecKeyError(ValueError):
    """A key ring or a payload the codec cannot work with; the message says which key and why."""


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """Parse ``"id1:<base64>,id2:<base64>"`` into ``[(id, 32-byte key), ...]``, current first.

    Raises:
        CodecKeyError: an entry without ``id:``, a bad key ID, a duplicate ID, a key that is not
            base64 or not 32 bytes. Messages name the key ID, never the key material.
    """
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(e.strip() for e in spec.split(",")):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep:
            raise CodecKeyError(f"{ENV_VAR} entry {position + 1} is not <key-id>:<base64 key>")
        if not _KEY_ID.match(key_id):
            raise CodecKeyError(
                f"{ENV_VAR} entry {position + 1}: key ID must be 1-64 of A-Z a-z 0-9 . _ -"
            )
        if any(key_id == known for known, _ in keys):
            raise CodecKeyError(f"{ENV_VAR}: key ID {key_id!r} appears twice")
        key = _decode_key(encoded.strip(), key_id)
        keys.append((key_id, key))
    return keys


def _decode_key(encoded: str, key_id: str) -> bytes:
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        if "-" in padded or "_" in padded:
            key = base64.urlsafe_b64decode(padded.encode("ascii"))
        else:
            key = base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise CodecKeyError(f"{ENV_VAR}: key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise CodecKeyError(
            f"{ENV_VAR}: key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return key


def generate_key_spec(key_id: str) -> str:
    """A new random ``<key-id>:<base64 key>`` entry for ``ONBOARDING_CODEC_KEYS``."""
    if not _KEY_ID.match(key_id):
        raise CodecKeyError("key ID must be 1-64 of A-Z a-z 0-9 . _ -")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode('ascii')}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM payload codec with a key ring: encrypt with the first key, decrypt with any."""

    def __init__(self, keys: Sequence[tuple[str, bytes]] | Mapping[str, bytes]) -> None:
        """Build the codec.

        Args:
            keys: ``(key ID, 32-byte key)`` pairs, current key first (a mapping keeps its order).

        Raises:
            CodecKeyError: no key, a duplicate ID or a key that is not 32 bytes.
        """
        pairs = list(keys.items()) if isinstance(keys, Mapping) else list(keys)
        if not pairs:
            raise CodecKeyError("the encryption codec needs at least one key")
        self._ciphers: dict[str, AESGCM] = {}
        for key_id, key in pairs:
            if key_id in self._ciphers:
                raise CodecKeyError(f"key ID {key_id!r} appears twice")
            if len(key) != KEY_BYTES:
                raise CodecKeyError(f"key {key_id!r} is {len(key)} bytes; AES-256 needs 32")
            self._ciphers[key_id] = AESGCM(key)
        self._current_id = pairs[0][0]

    @property
    def current_key_id(self) -> str:
        """The ID of the key new payloads are encrypted with."""
        return self._current_id

    @property
    def key_ids(self) -> list[str]:
        """Every key ID the codec can decrypt, current first."""
        return list(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload (its whole serialized form, metadata included)."""
        cipher = self._ciphers[self._current_id]
        encoded: list[Payload] = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            encoded.append(
                Payload(
                    metadata={
                        "encoding": ENCODING,
                        KEY_ID_METADATA: self._current_id.encode("utf-8"),
                    },
                    data=nonce + cipher.encrypt(nonce, payload.SerializeToString(), None),
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads; others (written before encryption) pass through.

        Raises:
            CodecKeyError: a payload names a key the ring does not hold, or does not decrypt
                (wrong key material or tampered data).
        """
        return [self._decode_one(p) for p in payloads]

    def _decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise CodecKeyError(f"encrypted payload has no {KEY_ID_METADATA!r} metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise CodecKeyError(
                f"payload is encrypted with key {key_id!r}, which is not in the key ring "
                f"({', '.join(self._ciphers)}); add it to {ENV_VAR}"
            )
        if len(payload.data) < NONCE_BYTES + 16:
            raise CodecKeyError(f"encrypted payload (key {key_id!r}) is truncated")
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise CodecKeyError(
                f"payload does not decrypt with key {key_id!r}: wrong key material or tampered"
            ) from None
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


class NoKeysCodec(PayloadCodec):
    """The codec of a process without keys: writes plain payloads, refuses to guess at encrypted
    ones.

    Without it, an encrypted payload reaches the JSON converter, which fails with a bare
    ``KeyError: 'Unknown payload encoding binary/encrypted'``; with it, the error says that the
    payloads are encrypted and which variable holds the keys.
    """

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Leave payloads as they are (no key: nothing is encrypted)."""
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Pass plain payloads through; refuse encrypted ones with what to do about it.

        Raises:
            CodecKeyError: a payload is encrypted.
        """
        for payload in payloads:
            if payload.metadata.get("encoding") == ENCODING:
                key_id = payload.metadata.get(KEY_ID_METADATA, b"?").decode("utf-8", "replace")
                raise CodecKeyError(
                    f"this run's payloads are encrypted (key {key_id!r}) and {ENV_VAR} is not "
                    f"set: set {ENV_VAR} to the key ring the workers use"
                )
        return list(payloads)


def codec_from_keys(keys: Iterable[tuple[str, bytes]]) -> EncryptionCodec | None:
    """An :class:`EncryptionCodec` over ``keys``, or None when there is no key."""
    pairs = list(keys)
    return EncryptionCodec(pairs) if pairs else None


def codec_from_env(environ: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec configured by ``ONBOARDING_CODEC_KEYS``, or None when it is unset or empty.

    Raises:
        CodecKeyError: the variable is set but malformed (fail closed: never fall back to
            writing plain text when encryption was asked for).
    """
    env = os.environ if environ is None else environ
    return codec_from_keys(parse_keys(env.get(ENV_VAR, "")))
