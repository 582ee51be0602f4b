"""Training the recogniser and the detector on Kartoteka's own training sets (``kartoteka train``)."""
