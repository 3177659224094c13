"""Text that came from an event, made safe for where a person reads it.

A customer name typed into a checkout page travels to a chat channel, a terminal and an email
subject. Each of those interprets some characters: Slack turns ``<!channel>`` into a ping and
``<url|label>`` into a disguised link; a terminal obeys ESC, CR and OSC sequences (erase a line,
forge one, retitle the window); an email header ends at CR LF. These helpers are pure and are
called at each boundary, on the whole text that leaves the process.

Characters that steer a display rather than show something are the Unicode categories Cc
(controls: NUL, ESC, CR, LF, DEL...), Cf (format: bidirectional overrides, zero-width marks),
Cs (lone surrogates), Co (private use), Cn (unassigned), Zl and Zp (line and paragraph
separators). Zero-width joiner and non-joiner are the exception: several scripts need them to
spell a name, and they reorder nothing.
"""

from __future__ import annotations

import unicodedata

#: Categories of characters that steer a display instead of showing something.
STEERING_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Format characters some scripts need inside names (ZWNJ, ZWJ): harmless, kept.
JOINERS = frozenset({"\u200c", "\u200d"})
#: Longest email subject we send; longer ones end with an ellipsis.
MAX_SUBJECT_LENGTH = 200


def is_steering(char: str) -> bool:
    """Whether ``char`` steers a display (a control, format or separator character)."""
    return char not in JOINERS and unicodedata.category(char) in STEERING_CATEGORIES


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` for a terminal: every steering character shown as an escape (``\\x1b``).

    A name with ESC, CR or an OSC sequence prints as visible text, on one line, and cannot
    erase, forge or retitle anything. Everything else, any script included, is unchanged.
    """
    if text.isprintable():  # the common case, in C
        return text
    return "".join(_escape(c) if c != " " and is_steering(c) else c for c in text)


def escape_chat(text: str) -> str:
    """``text`` for a Slack message: ``&``, ``<`` and ``>`` escaped as Slack asks senders to.

    With them escaped, no value can mention ``<!channel>`` or a user, or render a link whose
    label hides its address. Line breaks and tabs stay; other steering characters are shown as
    escapes, as in a terminal.
    """
    out = []
    for char in text:
        if char == "&":
            out.append("&amp;")
        elif char == "<":
            out.append("&lt;")
        elif char == ">":
            out.append("&gt;")
        elif char in "\n\t" or not is_steering(char):
            out.append(char)
        else:
            out.append(_escape(char))
    return "".join(out)


def header_text(text: str, *, max_length: int = MAX_SUBJECT_LENGTH) -> str:
    """``text`` for an email header or subject: one line, no steering characters.

    CR, LF, tabs and separators become spaces (a header cannot be ended early or a second one
    injected), other steering characters are dropped, runs of spaces collapse, and a text
    longer than ``max_length`` ends with an ellipsis.
    """
    cleaned = []
    for char in text:
        if char in "\r\n\t\v\f" or unicodedata.category(char) in ("Zl", "Zp", "Zs"):
            cleaned.append(" ")
        elif not is_steering(char):
            cleaned.append(char)
    line = " ".join("".join(cleaned).split())
    if len(line) > max_length:
        line = line[: max_length - 1].rstrip() + "…"
    return line
