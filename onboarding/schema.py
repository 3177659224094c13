"""Write the canonical payload's JSON Schema under ``schemas/``: ``python -m onboarding.schema``."""

from __future__ import annotations

import json

from onboarding.payload import payload_json_schema
from onboarding.validation import SCHEMA_PATH


def render() -> str:
    """The schema file's text."""
    return json.dumps(payload_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    """Regenerate the committed schema file."""
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH.name}")


if __name__ == "__main__":
    main()
