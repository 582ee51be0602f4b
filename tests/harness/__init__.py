"""Real-server test harness: starts PostgreSQL, RabbitMQ, Redis, S3 and SMTP for the tests.

Servers are real processes on loopback ports picked at run time, with data in per-run
directories, so tests exercise the same protocols and failure modes as production and several
runs (or several checkouts) on one machine never collide. Each server can be replaced by an
external one through a ``KARTOTEKA_TEST_*`` environment variable (see ``fixtures.py``).
"""
