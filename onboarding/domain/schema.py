"""Write the payload's and the rules' JSON Schemas into ``onboarding/data/schemas/``:
``python -m onboarding.domain.schema`` (a development tool: it writes into the source tree)."""

from __future__ import annotations

import json
from pathlib import Path

from onboarding.domain.payload import payload_json_schema
from onboarding.domain.rules import rules_json_schema

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "schemas"
SCHEMA_PATH = SCHEMAS / "onboarding-payload.schema.json"
RULES_SCHEMA_PATH = SCHEMAS / "onboarding-rules.schema.json"


def render() -> str:
    """The payload schema file's text."""
    return json.dumps(payload_json_schema(), indent=2, sort_keys=True) + "\n"


def render_rules() -> str:
    """The rules schema file's text."""
    return json.dumps(rules_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Regenerate the committed schema files."""
    SCHEMA_PATH.write_text(render())
    RULES_SCHEMA_PATH.write_text(render_rules())
    print(f"wrote {SCHEMA_PATH.name} and {RULES_SCHEMA_PATH.name}")


if __name__ == "__main__":
    main()
