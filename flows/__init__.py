"""Prefect flows: the entry points that prefect.yaml deploys and people trigger."""
