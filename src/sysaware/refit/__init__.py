"""Analysis ``refit``: fits of histograms a user supplies (a published analysis's inputs).

:mod:`.entries` turns one ``refit.fits`` entry into a cabinetry config and checks how its
samples, norm factors and systematics refer to each other; :mod:`.inputs` reads and checks the
histograms before anything is fitted and builds the workspace; :mod:`.config_checks` holds the
checks run when the config is read.
"""
