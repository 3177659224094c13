"""The domain: payload, rules, routing, SLAs, error taxonomy and run state. Plain Python: no
Temporal, no I/O, so every rule is unit-tested directly."""
