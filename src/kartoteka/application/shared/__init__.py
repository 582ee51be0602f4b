"""The shared kernel: what every context's use cases rely on alike.

Object storage, the outbox's messages and their delivery, an unreachable
database, time and new ids, decoding images, model availability, readiness
checks, and the live messages that watchers receive.
"""
