"""Recognition's tables: tasks, batches, transcript revisions, the search index, progress and cancellation."""
