"""Physics objects of the tau+jets analysis: correction tables (:mod:`.corrections`), systematic
variations (:mod:`.variations`), the event selection (:mod:`.selection`), the features
(:mod:`.features`) and the generator-level truth labels (:mod:`.truth`)."""
