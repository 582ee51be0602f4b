"""PostgreSQL adapters for identity: users, challenges, sessions, API tokens, login attempts."""
