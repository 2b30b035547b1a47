"""The ``otel-bridge`` command: a thin shell over :func:`otel_bridge.configure`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from otel_bridge.cli.run import run_command

EXIT_CONFIG_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="otel-bridge",
        description="Trace LiteLLM calls into an OTLP backend and MLflow at once.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a command with tracing configured before its first line",
        description="Run CMD with the bridge configured from the environment, e.g. "
        "`otel-bridge run -- python app.py`. CMD's exit code is passed through.",
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        cmd = list(args.cmd)
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        return run_command(cmd)
    return EXIT_CONFIG_ERROR  # argparse rejects unknown commands before this


if __name__ == "__main__":
    sys.exit(main())
