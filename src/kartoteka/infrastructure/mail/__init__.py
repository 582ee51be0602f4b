"""Mail: sending login codes over SMTP, and checking email addresses."""
