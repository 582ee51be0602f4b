"""Writers for transcript exports (txt, JSON, PAGE XML, ALTO XML) and zip bundles of them."""
