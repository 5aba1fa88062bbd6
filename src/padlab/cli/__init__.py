"""The ``padlab`` command line: one module per subcommand, wired up in :mod:`padlab.cli.main`."""
