"""Ingestion of NanoAOD samples: NanoEvents reading (:mod:`.nanoevents`), the per-chunk task
(:mod:`.chunk`), the iterative executor that also combines the chunks of a sample (:mod:`.ingest`),
the Dask executor (:mod:`.distributed`) and remote inputs (:mod:`.remote`)."""
