"""CMS ttbar -> tau+jets analysis on NanoAOD: ingestion, selection, features and systematic variations."""
