"""Metrics of a monitoring run: drift, fairness, quality, performance and the risk score.

Each module documents its formulas, computes at scale with DuckDB SQL over the lake, and is
checked in the tests against a plain numpy reference (and an independent library where one
exists). Direction of names: ``*_difference``, ``*_distance``, ``*_index``: 0 means no change
or parity and larger is worse; ``*_ratio``: 1 means parity and smaller is worse.
"""
