"""Measures one submission on one machine: prepare the model, start the engine, measure TPS and
PPL, run the integrity checks, fingerprint the machine, write one result JSON. It knows nothing
about GitHub."""
