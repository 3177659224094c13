"""``onboarding``: the operators' command line (queue, show, resolve, cancel)."""
