"""Built-in NanoAOD generator: particle-level physics (:mod:`.physics`), detector response
(:mod:`.detector`) and the NanoAOD files it writes (:mod:`.nanoaod`); see ``docs/cms_generator.md``."""
