"""Webhook signatures, payload encryption (codec and codec server), and log redaction."""
