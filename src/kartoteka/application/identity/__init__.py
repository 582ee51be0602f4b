"""Identity use cases: log in by email code, sessions, users, API tokens."""
