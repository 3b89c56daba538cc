"""Prefect tasks: thin wrappers that add retries, timeouts and names to one core call each."""
