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
    flush = commands.add_parser(
        "flush",
        help="send the spans waiting in the spool now (run it with the app's environment)",
        description="Send what the app's destinations could not take in time (it waits in "
        "OTEL_BRIDGE_SPOOL_DIR/<service>/<destination>, and the next traced process would "
        "send it), with a progress line. Exit code 0: nothing waits any more, 1: some spans "
        "still wait (the line says why), 2: a configuration error.",
    )
    flush.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up after this long (default: 300)",
    )
    commands.add_parser(
        "doctor",
        help="show the effective configuration and check every destination",
        description="Print the configuration the bridge would use (secrets masked), send an "
        "OTLP export request with no spans to the OTLP endpoint (nothing is stored) and check "
        "the MLflow server or store. Exit code 0: "
        "all well, 1: a destination failed its check, 2: a configuration error.",
    )
    demo = commands.add_parser(
        "demo",
        help="run a small traced agent (offline unless a provider key is set)",
        description="Run a weather agent (LLM -> get_weather tool -> streamed answer -> "
        "embedding) under one AGENT span, then print the trace id and how to view it.",
    )
    demo.add_argument(
        "--model",
        help="LiteLLM model, e.g. gpt-4o-mini; 'scripted': the offline model, the default "
        "when no OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY is set",
    )
    demo.add_argument("--question", help="what to ask the agent")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run":
        cmd = list(args.cmd)
        if cmd and cmd[0] == "--":
            cmd = cmd[1:]
        return run_command(cmd)
    if args.command == "flush":
        from otel_bridge.cli.flush import flush_command

        return flush_command(timeout=args.timeout)
    if args.command == "doctor":
        from otel_bridge.cli.doctor import doctor_command

        return doctor_command()
    if args.command == "demo":
        from otel_bridge.cli.demo import demo_command

        return demo_command(model=args.model, question=args.question)
    return EXIT_CONFIG_ERROR  # argparse rejects unknown commands before this


if __name__ == "__main__":
    sys.exit(main())
