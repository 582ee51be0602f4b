"""The gallery in PostgreSQL: images, folders, models and pgvector search."""
