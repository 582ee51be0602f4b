"""Gallery use cases: index, search, browse."""
