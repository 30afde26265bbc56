"""Cost estimation: rate tables, estimators and the metric instruments that carry DBUs and dollars."""
