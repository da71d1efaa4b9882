"""One module per `harness` subcommand."""
