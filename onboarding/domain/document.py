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


def _leaves(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            leaves.update(_leaves(value, path + "."))
        elif value not in (None, "", [], {}):
            leaves[path] = value
    return leaves


def fill_missing(
    document: dict[str, Any], incoming: dict[str, Any]
) -> tuple[dict[str, Any], list[str], list[str]]:
    """Enrich ``document`` with what a later event of the same transaction brings.

    A field the document lacks (absent or empty) takes the event's value; a field it has keeps
    its value even when the event says otherwise: that is a conflict for a person to settle
    (supply-data), never a silent overwrite.

    Returns:
        The enriched document, the paths it gained, and the paths whose values differ.
    """
    have = _leaves(document)
    supplied: list[str] = []
    conflicts: list[str] = []
    patch: dict[str, Any] = {}
    for path, value in _leaves(incoming).items():
        if path in have:
            if have[path] != value:
                conflicts.append(path)
            continue
        if any(path.startswith(known + ".") for known in have):
            conflicts.append(path)  # the document holds a plain value where the event nests one
            continue
        supplied.append(path)
        target = patch
        *parents, leaf = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return merge_patch(document, patch), supplied, conflicts
