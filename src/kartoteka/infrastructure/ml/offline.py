"""Environment for running models with no model hub in reach.

Set before transformers or ultralytics is imported: both read these at
import time. ultralytics also wants a writable settings directory and a font
it would otherwise try to download the first time it draws a label.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

OFFLINE_VARIABLES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "false",
    "YOLO_VERBOSE": "false",
}


def prepare_offline_environment() -> None:
    for key, value in OFFLINE_VARIABLES.items():
        os.environ.setdefault(key, value)
    config_dir = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(_default_yolo_dir())))
    fonts = config_dir / "Ultralytics"
    fonts.mkdir(parents=True, exist_ok=True)
    source = _bundled_font()
    if source is None:
        return
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = fonts / name
        if not target.exists():
            shutil.copyfile(source, target)


def _default_yolo_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kartoteka" / "yolo"


def _bundled_font() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    font = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.is_file() else None
