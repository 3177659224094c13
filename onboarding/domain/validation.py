"""The required-fields gate: every missing or invalid field of a payload, by its path.

Three checks, all reported at once: the JSON Schema (what is missing, what has the wrong type or
length), the content rules the schema cannot say (names, domains, control characters: see
:mod:`onboarding.domain.payload`), then pydantic for what crosses fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
from pydantic import BaseModel

from onboarding.domain.payload import (
    OnboardingPayload,
    _shown,
    name_problem,
    normalise_domain,
    payload_json_schema,
    text_problem,
)

#: The fields that hold a company's or a person's name.
NAME_PATHS = (
    "customer.legal_name",
    "primary_contact.name",
    "handover.stakeholders.champion",
    "handover.stakeholders.technical_owner",
    "handover.stakeholders.approver",
)
DOMAIN_PATH = "customer.domain"


class FieldProblem(BaseModel):
    """One field that blocks provisioning."""

    path: str
    problem: str


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = payload_json_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)  # type: ignore[no-any-return]


def _leaf(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For an optional field ("a string, or null"), the error about it as a string."""
    if error.validator in ("anyOf", "oneOf") and not (
        error.absolute_path and error.absolute_path[-1] == "implementation"
    ):
        for sub in error.context or ():
            if not (sub.validator == "type" and sub.validator_value == "null"):
                return _leaf(sub)
    return error


def _path(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        # "'domain' is a required property": name the missing field itself.
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        path = f"{path}.{missing}" if path else missing
    return path or "(payload)"


def _message(error: jsonschema.ValidationError) -> str:
    """What is wrong, in a person's words; a value is quoted escaped and cut, never whole."""
    kind, limit = error.validator, error.validator_value
    if kind == "required":
        return "is required"
    if kind == "anyOf" and error.absolute_path and error.absolute_path[-1] == "implementation":
        return "needs a start_target or an urgency"
    if kind == "pattern":
        return f"is not valid: {_shown(str(error.instance))}"
    if kind == "maxLength":
        return f"is longer than {limit} characters"
    if kind == "minLength":
        return "is empty" if limit == 1 else f"is shorter than {limit} characters"
    if kind == "maxItems":
        return f"has more than {limit} items"
    if kind in ("minimum", "maximum"):
        return f"must be {'at least' if kind == 'minimum' else 'at most'} {limit}"
    if kind == "type":
        return f"must be of type {limit}"
    if kind == "enum":
        return f"is {_shown(str(error.instance))}; expected one of: " + ", ".join(
            str(v) for v in limit
        )
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        return "has unknown field(s): " + ", ".join(_shown(str(k), 40) for k in unknown[:5])
    return _shown(str(error.message), 200)[1:-1]


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a document with its dotted path (list items by index)."""
    if isinstance(value, str):
        yield path or "(payload)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            # Unknown keys are refused by the schema; only plain ones make a path here.
            if isinstance(key, str) and len(key) <= 64 and key.isprintable():
                yield from _strings(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}")


def content_problems(document: dict[str, Any]) -> list[FieldProblem]:
    """Names that are not names, a domain that is not one, text with control characters."""
    problems: list[FieldProblem] = []
    for path, value in _strings(document):
        if path in NAME_PATHS:
            problem = name_problem(value) if value.strip() else None
        elif path == DOMAIN_PATH:
            try:
                normalise_domain(value)
                problem = None
            except ValueError as exc:
                problem = str(exc)
        else:
            problem = text_problem(value)
        if problem:
            problems.append(FieldProblem(path=path, problem=problem))
    return problems


def normalisation_notes(document: dict[str, Any]) -> list[str]:
    """What the gate changed beyond letter case, for the audit trail (one line per field).

    Today that is the domain: IDNA turns look-alike and non-ASCII spellings into the ASCII form
    the run uses, and a person reading the record should see both.
    """
    customer = document.get("customer")
    raw = customer.get("domain") if isinstance(customer, dict) else None
    if not isinstance(raw, str):
        return []
    try:
        normalised = normalise_domain(raw)
    except ValueError:
        return []
    # ASCII case is no news; anything else is (str.lower() itself maps the KELVIN SIGN to "k").
    ascii_lowered = "".join(c.lower() if c.isascii() else c for c in raw.strip().rstrip("."))
    if normalised == ascii_lowered:
        return []
    return [f"{DOMAIN_PATH} {_shown(raw)} normalised to {normalised} (IDNA, UTS #46)"]


def find_problems(document: dict[str, Any]) -> list[FieldProblem]:
    """All problems of a payload document, sorted by path; empty when it is complete and valid.

    JSON Schema (generated from the pydantic models) finds every missing and malformed field at
    once, the content rules every name, domain and text that cannot be stored; pydantic then
    checks the cross-field rules the schema cannot express.
    """
    errors = [_leaf(e) for e in _validator().iter_errors(document)]
    problems = {
        (_path(e), _message(e)): FieldProblem(path=_path(e), problem=_message(e)) for e in errors
    }
    seen = {path for path, _ in problems}
    for problem in content_problems(document):
        if problem.path not in seen:
            problems[(problem.path, problem.problem)] = problem
    if not problems:
        try:
            OnboardingPayload.model_validate(document)
        except Exception as exc:  # pydantic.ValidationError
            for err in getattr(exc, "errors", list)():
                path = ".".join(str(p) for p in err.get("loc", ())) or "(payload)"
                problems[(path, err["msg"])] = FieldProblem(path=path, problem=err["msg"])
    return sorted(problems.values(), key=lambda p: p.path)


def missing_paths(document: dict[str, Any], paths: list[str], why: str) -> list[FieldProblem]:
    """The dotted ``paths`` that are absent or empty in ``document`` (a tier's extra inputs)."""
    problems: list[FieldProblem] = []
    for path in paths:
        value: Any = document
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, "", [], {}):
            problems.append(FieldProblem(path=path, problem=why))
    return problems
