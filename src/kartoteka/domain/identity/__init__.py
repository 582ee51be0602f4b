"""Who may do what: users and their roles, one-time codes, sessions and API tokens."""
