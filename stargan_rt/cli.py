"""The `stargan-rt` command.

Subcommands are registered through the `stargan_rt.commands` entry-point group (see pyproject.toml):
each entry is a `register(subparsers)` function that adds one subparser and sets `func` to a callable
taking the parsed args and returning an exit code. The core therefore never imports trainer/ or export/,
and a subcommand's heavy imports (torch) happen only when it runs.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from typing import Sequence

from .errors import StarGanError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stargan-rt", description="Train, export and run StarGAN face attribute translation in real time."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for ep in sorted(entry_points(group="stargan_rt.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # a broken or partial install: keep the other commands usable
            _register_unavailable(sub, ep.name, exc)
            continue
        register(sub)
    return parser


def _register_unavailable(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", name: str, exc: Exception) -> None:
    why = f"the command {name!r} cannot load ({exc}); reinstall stargan-rt"

    def fail(_: argparse.Namespace) -> int:
        raise StarGanError(why)

    p = sub.add_parser(name, help="(unavailable)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=fail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except StarGanError as exc:
        print(f"stargan-rt {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"stargan-rt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
