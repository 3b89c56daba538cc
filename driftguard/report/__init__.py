"""HTML compliance reports: per-model and fleet pages, charts, and the e-mail summary."""
