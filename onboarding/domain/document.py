"""The payload document of a run: what people and later events add to it.

A run keeps the payload as a JSON document until it validates. People supply missing or wrong
fields as a JSON merge patch; a later event of the same transaction fills in what the run does
not know yet, and never overwrites what it does.
"""

from __future__ import annotations

from typing import Any


def patch_paths(patch: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted leaf paths a merge patch sets."""
    paths: list[str] = []
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths.extend(patch_paths(value, path + "."))
        else:
            paths.append(path)
    return paths


def merge_patch(document: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7386) of ``patch`` onto ``document``: a new document."""
    merged = dict(document)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged
