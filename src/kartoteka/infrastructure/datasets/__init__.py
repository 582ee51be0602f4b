"""Training sets on disk, in the layouts the training tools read as they are."""
