"""The required-fields gate: every missing or invalid field of a payload, by its path."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema
from pydantic import BaseModel

from onboarding.domain.payload import OnboardingPayload, payload_json_schema


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


def _path(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        # "'domain' is a required property": name the missing field itself.
        missing = str(error.message).split("'")[1] if "'" in error.message else ""
        path = f"{path}.{missing}" if path else missing
    return path or "(payload)"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if (
        error.validator == "anyOf"
        and error.absolute_path
        and error.absolute_path[-1] == "implementation"
    ):
        return "needs a start_target or an urgency"
    if error.validator == "pattern":
        return f"is not valid: {error.instance!r}"
    if error.validator == "additionalProperties":
        return str(error.message)
    return str(error.message)


def find_problems(document: dict[str, Any]) -> list[FieldProblem]:
    """All problems of a payload document, sorted by path; empty when it is complete and valid.

    JSON Schema (generated from the pydantic models) finds every missing and malformed field at
    once; pydantic then checks the cross-field rules the schema cannot express.
    """
    problems = {
        (_path(e), _message(e)): FieldProblem(path=_path(e), problem=_message(e))
        for e in _validator().iter_errors(document)
    }
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
