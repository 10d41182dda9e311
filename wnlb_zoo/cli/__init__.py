"""The ``wnlb-zoo`` command line: one module per command group."""
