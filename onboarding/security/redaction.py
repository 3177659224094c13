"""Personal data and secrets kept out of logs: a structlog processor.

:func:`redact_personal_data` replaces the value of every known personal or secret key (at any
depth of dicts and lists) with ``[redacted]`` and masks every email address in every string,
the event message included, and cuts every string to :data:`MAX_LOGGED_CHARS` (``pat@acme.example`` becomes ``***@acme.example``: the domain stays,
it names the company, the person does not). Put it last before the renderer (after
``format_exc_info``, so exception text is masked too)::

    processors=[..., structlog.processors.format_exc_info, redact_personal_data, JSONRenderer()]
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"

#: Keys whose values are personal data or secrets, compared lower-case with ``-`` as ``_``.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "emails",
        "contact_email",
        "customer_email",
        "email_address",
        "to",
        "cc",
        "bcc",
        "reply_to",
        "name",
        "contact_name",
        "first_name",
        "last_name",
        "full_name",
        "firstname",
        "lastname",
        "phone",
        "phone_number",
        "mobile",
        "address",
        "street",
        "primary_contact",
        "recipients",
        "signers",
    }
)
SECRET_KEYS = frozenset(
    {
        "authorization",
        "password",
        "secret",
        "secrets",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "cookie",
        "set_cookie",
        "signature",
        "stripe_signature",
        "x_signature",
        "webhook_secret",
        "private_key",
    }
)
_SECRET_KEY_PATTERN = re.compile(r"(^|_)(secret|password|token|signature|api_key)s?($|_)")

_LOCAL_CHARS = "A-Za-z0-9.!#$%&'*+/=?^_`{|}~-"
#: A candidate address: a whole run of local-part characters, ``@``, a whole run of domain
#: characters. The lookbehind makes a match start only where a run starts, and the possessive
#: quantifiers never give characters back, so each character is looked at a bounded number of
#: times: linear in the length of the text, whatever the text (no backtracking to exploit).
_CANDIDATE = re.compile(rf"(?<![{_LOCAL_CHARS}])[{_LOCAL_CHARS}]++@([A-Za-z0-9.-]++)")
#: The same, starting exactly where a masked address ended (the rest of its run).
_CANDIDATE_HERE = re.compile(rf"[{_LOCAL_CHARS}]++@([A-Za-z0-9.-]++)")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: Longest string kept in a log line; the rest is dropped (after masking what is kept).
MAX_LOGGED_CHARS = 2048
_MAX_DEPTH = 8
#: An address is at most 64 characters, ``@`` and 253 more.
_MAX_ADDRESS = 64 + 1 + 253
_ADDRESS_PUNCTUATION = frozenset("@.!#$%&'*+/=?^_`{|}~-")


def _domain_prefix(run: str) -> str:
    """The longest prefix of ``run`` made of at least two DNS labels, or ``""``."""
    labels: list[str] = []
    for label in run.split("."):
        match = _LABEL.match(label)
        if match is None:
            break
        labels.append(match.group(0))
        if match.end() != len(label):  # "acme-": the domain ends inside this label
            break
    return ".".join(labels) if len(labels) >= 2 else ""


def mask_emails(text: str) -> str:
    """``text`` with the local part of every email address replaced by ``***``.

    Linear in the length of ``text``: a 60 kB line costs what 60 kB of scanning costs, never
    its square.
    """
    if "@" not in text:
        return text
    out: list[str] = []
    pos = 0
    match = _CANDIDATE.search(text)
    while match is not None:
        domain = _domain_prefix(match.group(1))
        if domain:
            out.append(text[pos : match.start()])
            out.append(f"***@{domain}")
            pos = match.start(1) + len(domain)
            match = _CANDIDATE_HERE.match(text, pos) or _CANDIDATE.search(text, pos)
        else:
            # "junk@pat@acme.example": the domain run may itself start the next address.
            match = _CANDIDATE.search(text, match.start(1))
    out.append(text[pos:])
    return "".join(out)


def _bounded(text: str) -> str:
    """``text`` masked and cut to :data:`MAX_LOGGED_CHARS`.

    The cut happens first, and the address-like run the cut went through is dropped (up to the
    longest an address can be), so half an address never survives unmasked.
    """
    if len(text) <= MAX_LOGGED_CHARS:
        return mask_emails(text)
    kept = text[:MAX_LOGGED_CHARS]
    tail = len(kept)
    floor = tail - _MAX_ADDRESS
    while tail > floor and (kept[tail - 1].isalnum() or kept[tail - 1] in _ADDRESS_PUNCTUATION):
        tail -= 1
    return mask_emails(kept[:tail]) + f"…[{len(text) - tail} characters dropped]"


def is_sensitive_key(key: str) -> bool:
    """Whether a value logged under ``key`` must be redacted whatever it holds."""
    normalized = key.strip().lower().replace("-", "_")
    return (
        normalized in PERSONAL_KEYS
        or normalized in SECRET_KEYS
        or bool(_SECRET_KEY_PATTERN.search(normalized))
    )


def redact(value: Any, *, _depth: int = 0) -> Any:
    """A copy of ``value`` with sensitive keys redacted and emails masked, at any depth."""
    if isinstance(value, str):
        return _bounded(value)
    if _depth >= _MAX_DEPTH:
        return value if isinstance(value, int | float | bool | type(None)) else REDACTED
    if isinstance(value, dict):
        return {
            k: REDACTED
            if isinstance(k, str) and is_sensitive_key(k)
            else redact(v, _depth=_depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(v, _depth=_depth + 1) for v in value)
    if isinstance(value, list | set | frozenset):
        return [redact(v, _depth=_depth + 1) for v in value]
    return value


def redact_personal_data(
    _logger: Any, _method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact personal and secret keys, mask emails in every string."""
    for key in list(event_dict):
        if key.startswith("_"):
            continue  # structlog internals (_record, _from_structlog)
        value = event_dict[key]
        if is_sensitive_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact(value)
    return event_dict
