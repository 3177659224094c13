"""Files the distribution ships beside its code, read through :mod:`importlib.resources` so they
are found wherever the package is installed (a wheel in a container, a virtual environment, an
editable checkout): the bundled rules, the JSON Schemas, and the sample billing events."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

ROOT: Traversable = files(__name__)

#: The bundled sample rules, used when neither ``ONBOARDING_RULES_FILE`` nor ``--rules`` names one.
BUNDLED_RULES: Traversable = ROOT / "rules" / "onboarding-rules.toml"
#: The committed JSON Schemas of the canonical payload and of the rules file.
PAYLOAD_SCHEMA: Traversable = ROOT / "schemas" / "onboarding-payload.schema.json"
RULES_SCHEMA: Traversable = ROOT / "schemas" / "onboarding-rules.schema.json"
#: The demo's sample events, the CRM seed and each sample's expected outcome.
SAMPLES: Traversable = ROOT / "samples"
