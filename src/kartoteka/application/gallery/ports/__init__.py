"""What the gallery use cases need from outside: the image store and vector index, the encoder, files and thumbnails."""
