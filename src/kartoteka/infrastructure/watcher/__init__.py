"""The directory side of the gallery index: scanning a root, hashing files, watching for changes."""
