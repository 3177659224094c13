"""Write the payload's and the rules' JSON Schemas under ``schemas/``: ``python -m onboarding.schema``."""

from __future__ import annotations

import json

from onboarding.payload import payload_json_schema
from onboarding.rules import rules_json_schema
from onboarding.validation import SCHEMA_PATH

RULES_SCHEMA_PATH = SCHEMA_PATH.parent / "onboarding-rules.schema.json"


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
