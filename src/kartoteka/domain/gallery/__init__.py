"""The image gallery: images from watched directories, uploads and card scans."""
