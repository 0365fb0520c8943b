"""Document formats to blocks: one module per format, all producing the ``Block`` list the chunker packs."""
