"""The onboarding control plane: everything the distribution ships besides the four layout
packages (``workflows``, ``activities``, ``workers``, ``starters``), under one namespace so that
installing it never shadows another library."""
