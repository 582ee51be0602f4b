"""The published PAGE and ALTO XSDs (tests/data/schemas), loaded offline.

The XLink schema ALTO imports from the network is answered from a local file by an lxml resolver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"
XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"


class _OfflineSchemas(etree.Resolver):
    """Answers the XLink import of alto-4-4.xsd with the local copy; everything else stays unresolved."""

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        if system_url == XLINK_URL:
            return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
        return None


def load_schema(name: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_OfflineSchemas())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))
