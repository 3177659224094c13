"""Temporal workflows. Workflow modules import only the standard library and temporalio at top
level; everything else is passed through the sandbox."""
