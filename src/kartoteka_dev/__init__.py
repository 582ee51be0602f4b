"""Developer tools: tiny models of the production architectures, synthetic cards, demo fixtures, retrieval evaluation.

They need the dev dependency group (scikit-image, the LASA dataset) and never ship in the
wheel: production code cannot import them (an import-linter contract), and `kartoteka dev`
says so clearly where they are missing.
"""
