"""Image embedders for the gallery: the registry, the built-in models, and the ImageEncoder adapter.

Importing this package imports no model library; the built-in embedders
import torch, timm and open_clip when they are built.
"""
