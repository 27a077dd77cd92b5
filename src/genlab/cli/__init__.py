"""Command-line interface: argparse subcommands, no model code."""
