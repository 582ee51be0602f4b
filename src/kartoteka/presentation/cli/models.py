"""``kartoteka models list``: each configured model, whether it is here, and which weights those are."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from kartoteka.application.shared.models import ModelPresence


def print_presence(found: Sequence[ModelPresence], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        rows = [
            {
                "role": p.model.role,
                "model": p.model.reference,
                "present": p.present,
                "path": str(p.path) if p.path else None,
                "identity": p.identity,
                "problem": p.problem,
            }
            for p in found
        ]
        json.dump(rows, out, ensure_ascii=False, indent=2)
        print(file=out)
        return
    width = max(len(p.model.role) for p in found)
    for p in found:
        state = "MISSING" if not p.present else (f"here  {p.path}  ({p.identity})" if p.path else "here")
        print(f"{p.model.role:<{width}}  {p.model.reference}", file=out)
        print(f"{'':<{width}}    {state}", file=out)
        if p.problem:
            print(f"{'':<{width}}    {p.problem}", file=out)
