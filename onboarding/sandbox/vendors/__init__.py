"""Route modules, one per emulated vendor."""
