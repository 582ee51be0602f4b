"""Ground truth read from files: the synthetic cards' JSON, PAGE 2019 and ALTO v4 next to their scans."""
