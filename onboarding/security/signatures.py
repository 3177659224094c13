"""Webhook signature verification on the raw request body, before anything parses it.

Every compare is constant-time (:func:`hmac.compare_digest` on bytes). Error reasons are precise
enough to fix a misconfiguration but never contain a signature, a secret or the body.

- Stripe: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=<hex>]``; the signed payload is
  ``b"<t>." + body``, HMAC-SHA256 keyed with the endpoint secret (``whsec_...``) used as-is, as
  Stripe's own library does. Several secrets (rotation) and several ``v1`` values are accepted.
- DocuSign Connect HMAC: ``X-DocuSign-Signature-1..N``, each ``base64(HMAC-SHA256(key, body))``;
  accepted when any header matches any configured key.
- HubSpot webhooks (v3): ``X-HubSpot-Signature-v3`` is ``base64(HMAC-SHA256(app secret,
  method + URI + body + timestamp))`` and ``X-HubSpot-Request-Timestamp`` the Unix time in
  milliseconds, accepted within 5 minutes. The URI is the one HubSpot posted to (the target URL
  configured in the app), with a few percent-escapes decoded as HubSpot does.
- Generic CRM webhook: ``X-Signature: sha256=<hex>`` (the ``sha256=`` prefix is optional),
  HMAC-SHA256 of the body with the shared secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

#: Stripe's default tolerance between the signed timestamp and now.
STRIPE_TOLERANCE_SECONDS = 300
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
DOCUSIGN_SIGNATURE_PREFIX = "X-DocuSign-Signature-"
HUBSPOT_SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
#: HubSpot's window for the request timestamp.
HUBSPOT_TOLERANCE_SECONDS = 300
CRM_SIGNATURE_HEADER = "X-Signature"
CRM_SIGNATURE_PREFIX = "sha256="

_DOCUSIGN_HEADER = re.compile(r"^x-docusign-signature-(\d{1,3})$", re.IGNORECASE)


class SignatureProblem(StrEnum):
    """What kind of refusal a :class:`SignatureError` is (an HTTP layer maps it to a status)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"
    EXPIRED = "expired"
    NOT_CONFIGURED = "not-configured"


class SignatureError(Exception):
    """A request whose signature cannot be accepted.

    Attributes:
        reason: Why, precisely; safe to return to the caller and to log.
        problem: The kind of refusal.
    """

    def __init__(self, reason: str, problem: SignatureProblem = SignatureProblem.MISMATCH) -> None:
        super().__init__(reason)
        self.reason = reason
        self.problem = problem


def _hmac_sha256(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _secrets(values: Iterable[str], what: str) -> list[str]:
    secrets = [v for v in values if v]
    if not secrets:
        raise SignatureError(f"no {what} is configured", SignatureProblem.NOT_CONFIGURED)
    return secrets


# --------------------------------------------------------------------------------------- Stripe


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``body`` signed at ``timestamp`` with ``secret``."""
    return hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()


def stripe_signature_header(body: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """A ``Stripe-Signature`` header value with one ``v1`` per secret (as Stripe sends it).

    Useful to sign test deliveries and to replay an event to a local intake.
    """
    parts = [f"t={timestamp}", *(f"v1={stripe_signature(body, s, timestamp)}" for s in secrets)]
    return ",".join(parts)


def parse_stripe_header(header: str) -> tuple[int, list[str]]:
    """Split a ``Stripe-Signature`` header into its timestamp and its ``v1`` signatures.

    Raises:
        SignatureError: the header is not a comma-separated list of ``key=value`` items with
            exactly one integer ``t`` and at least one ``v1``.
    """
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key:
            raise SignatureError(
                "malformed Stripe-Signature header: expected comma-separated key=value items",
                SignatureProblem.MALFORMED,
            )
        if key == "t":
            timestamps.append(value)
        elif key == "v1" and value:
            signatures.append(value)
    if len(timestamps) != 1:
        raise SignatureError(
            "malformed Stripe-Signature header: expected exactly one t=<timestamp>",
            SignatureProblem.MALFORMED,
        )
    if not re.fullmatch(r"\d{1,12}", timestamps[0]):
        raise SignatureError(
            "malformed Stripe-Signature header: the timestamp is not a Unix time",
            SignatureProblem.MALFORMED,
        )
    if not signatures:
        raise SignatureError(
            "no v1 signature in the Stripe-Signature header", SignatureProblem.MALFORMED
        )
    return int(timestamps[0]), signatures


def verify_stripe(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = STRIPE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Verify a Stripe delivery; return its signed timestamp.

    Args:
        body: The raw request body, exactly as received.
        header: The ``Stripe-Signature`` header value (None when absent).
        secrets: The endpoint signing secrets (``whsec_...``); any of them may match.
        tolerance: Largest accepted distance, in seconds, between the timestamp and ``now``.
        now: The current Unix time (None: the clock).

    Raises:
        SignatureError: missing or malformed header, no ``v1`` signature, no signature matching
            any secret, or a timestamp outside the tolerance.
    """
    keys = _secrets(secrets, "Stripe webhook secret (STRIPE_WEBHOOK_SECRETS)")
    if not header or not header.strip():
        raise SignatureError("missing Stripe-Signature header", SignatureProblem.MISSING)
    timestamp, signatures = parse_stripe_header(header)
    matched = False
    for key in keys:
        expected = stripe_signature(body, key, timestamp)
        for candidate in signatures:
            # No short-circuit: every pair is compared, whatever matches.
            matched |= _same(expected, candidate.lower())
    if not matched:
        raise SignatureError("no Stripe signature matches the payload with the configured secrets")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(
            f"Stripe signature timestamp is outside the tolerance of {tolerance} s "
            f"({int(current - timestamp)} s from now)",
            SignatureProblem.EXPIRED,
        )
    return timestamp


# ------------------------------------------------------------------------------------- DocuSign


def docusign_signature(body: bytes, key: str) -> str:
    """``base64(HMAC-SHA256(key, body))``, the value of one ``X-DocuSign-Signature-N`` header."""
    return base64.b64encode(_hmac_sha256(key, body)).decode("ascii")


def docusign_signatures(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[str]:
    """The values of the ``X-DocuSign-Signature-1..N`` headers, in header-number order."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: list[tuple[int, str]] = []
    for name, value in items:
        match = _DOCUSIGN_HEADER.match(name)
        if match and value.strip():
            found.append((int(match.group(1)), value.strip()))
    return [value for _, value in sorted(found)]


def verify_docusign(body: bytes, signatures: Sequence[str], keys: Sequence[str]) -> None:
    """Verify a DocuSign Connect delivery signed with HMAC.

    Args:
        body: The raw request body.
        signatures: The ``X-DocuSign-Signature-N`` values (see :func:`docusign_signatures`).
        keys: The Connect HMAC keys (any of them may match; DocuSign signs with each active key).

    Raises:
        SignatureError: no signature header, or none matches any key.
    """
    secrets = _secrets(keys, "DocuSign Connect HMAC key (DOCUSIGN_CONNECT_KEYS)")
    if not signatures:
        raise SignatureError(
            "missing X-DocuSign-Signature-1 header (enable HMAC signing in the Connect "
            "configuration)",
            SignatureProblem.MISSING,
        )
    matched = False
    for key in secrets:
        expected = docusign_signature(body, key)
        for candidate in signatures:
            matched |= _same(expected, candidate)
    if not matched:
        raise SignatureError("no DocuSign signature matches the payload with the configured keys")


# -------------------------------------------------------------------------------------- HubSpot

#: The percent-escapes HubSpot decodes in the URI before it signs it.
_HUBSPOT_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_HUBSPOT_ESCAPE = re.compile("|".join(_HUBSPOT_DECODED), re.IGNORECASE)


def hubspot_uri(uri: str) -> str:
    """``uri`` as HubSpot signs it: the listed percent-escapes decoded, the others kept."""
    return _HUBSPOT_ESCAPE.sub(lambda m: _HUBSPOT_DECODED[m.group(0).upper()], uri)


def hubspot_signature(method: str, uri: str, body: bytes, timestamp: str, secret: str) -> str:
    """The ``X-HubSpot-Signature-v3`` value of one request."""
    message = method.upper().encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(_hmac_sha256(secret, message)).decode("ascii")


def verify_hubspot(
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = HUBSPOT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Verify a HubSpot webhook delivery signed with the v3 signature.

    Args:
        method: The request method (``POST``).
        uri: The full URI HubSpot posted to, scheme and host included.
        body: The raw request body.
        signature: The ``X-HubSpot-Signature-v3`` value (None: absent).
        timestamp: The ``X-HubSpot-Request-Timestamp`` value, Unix milliseconds (None: absent).
        secrets: The app's client secrets (several during a rotation).
        tolerance: Largest accepted age, in seconds (HubSpot's is 5 minutes).
        now: The current Unix time (None: the clock).

    Raises:
        SignatureError: missing or malformed headers, no secret produces the signature, or
            the timestamp is outside the window.
    """
    keys = _secrets(secrets, "HubSpot app secret (HUBSPOT_APP_SECRETS)")
    if not signature or not signature.strip():
        raise SignatureError(f"missing {HUBSPOT_SIGNATURE_HEADER} header", SignatureProblem.MISSING)
    if not timestamp or not timestamp.strip():
        raise SignatureError(f"missing {HUBSPOT_TIMESTAMP_HEADER} header", SignatureProblem.MISSING)
    stamp = timestamp.strip()
    if not re.fullmatch(r"[0-9]{1,15}", stamp):
        raise SignatureError(
            f"malformed {HUBSPOT_TIMESTAMP_HEADER} header: expected Unix milliseconds",
            SignatureProblem.MALFORMED,
        )
    value = signature.strip()
    if len(value) > 100:
        raise SignatureError(
            f"malformed {HUBSPOT_SIGNATURE_HEADER} header", SignatureProblem.MALFORMED
        )
    matched = False
    for key in keys:
        matched |= _same(hubspot_signature(method, uri, body, stamp, key), value)
    if not matched:
        raise SignatureError("no HubSpot signature matches the request with the configured secrets")
    current = time.time() if now is None else now
    age = current - int(stamp) / 1000
    if abs(age) > tolerance:
        raise SignatureError(
            f"HubSpot request timestamp is outside the window of {tolerance} s "
            f"({int(age)} s from now)",
            SignatureProblem.EXPIRED,
        )


# ------------------------------------------------------------------------------------------ CRM


def crm_signature(body: bytes, secret: str) -> str:
    """The ``X-Signature`` header value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return CRM_SIGNATURE_PREFIX + _hmac_sha256(secret, body).hex()


def verify_crm(body: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """Verify a CRM webhook: ``X-Signature`` is the hex HMAC-SHA256 of the body.

    Args:
        body: The raw request body.
        header: The ``X-Signature`` value, ``sha256=<hex>`` or bare ``<hex>`` (None: absent).
        secrets: The shared secrets (several during a rotation).

    Raises:
        SignatureError: missing or malformed header, or no secret produces the signature.
    """
    keys = _secrets(secrets, "CRM webhook secret (CRM_WEBHOOK_SECRET)")
    if not header or not header.strip():
        raise SignatureError("missing X-Signature header", SignatureProblem.MISSING)
    value = header.strip()
    if value[: len(CRM_SIGNATURE_PREFIX)].lower() == CRM_SIGNATURE_PREFIX:
        value = value[len(CRM_SIGNATURE_PREFIX) :]
    value = value.lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise SignatureError(
            "malformed X-Signature header: expected sha256=<64 hex digits>",
            SignatureProblem.MALFORMED,
        )
    matched = False
    for key in keys:
        matched |= _same(_hmac_sha256(key, body).hex(), value)
    if not matched:
        raise SignatureError("no CRM signature matches the payload with the configured secret")
