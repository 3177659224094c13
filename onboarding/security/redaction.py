"""Personal data and secrets kept out of logs: a structlog processor.

:func:`redact_personal_data` replaces the value of every known personal or secret key (at any
depth of dicts and lists) with ``[redacted]`` and masks every email address in every string,
the event message included (``pat@acme.example`` becomes ``***@acme.example``: the domain stays,
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

EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)"
)
_MAX_DEPTH = 8


def mask_emails(text: str) -> str:
    """``text`` with the local part of every email address replaced by ``***``."""
    return EMAIL.sub(lambda m: f"***@{m.group(1)}", text)


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
        return mask_emails(value)
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
