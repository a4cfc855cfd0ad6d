"""HiggsML (ATLAS 2014 / FAIR-Universe) H->tautau ingestion and systematic variations."""
