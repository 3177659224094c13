"""What every process shares: the Temporal client configuration, the data converter, logging."""
