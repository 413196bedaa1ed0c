"""The `stargan-rt` command.

Subcommands are registered through the `stargan_rt.commands` entry-point group (see pyproject.toml):
each entry is a `register(subparsers)` function that adds one subparser and sets `func` to a callable
taking the parsed args and returning an exit code. The core therefore never imports trainer/ or export/,
and a subcommand's heavy imports (torch) happen only when it runs.
"""

from __future__ import annotations

import argparse
import errno
import sys
from importlib.metadata import entry_points
from typing import Any, NoReturn, Sequence

from .errors import StarGanError, plain

# What the machine, not the program, gets wrong while writing or reading: a full disk, a read-only or unwritable
# place, a name too long. One line and exit 2 like any bad input; any other OSError is a bug and keeps its traceback.
ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
                      errno.ENAMETOOLONG, errno.ENOTDIR, errno.EISDIR, errno.EMFILE, errno.ENFILE, errno.ENXIO}


class OneLineParser(argparse.ArgumentParser):
    """Usage mistakes end in one line and exit status 2, like every other bad input (no usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {plain(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


# Options whose value is a list of attributes declare metavar ATTRS: their values may start with "-" ("-Young").
ATTRS = "ATTRS"


def attach_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """["-t", "-Young"] -> ["-t=-Young"] for ATTRS options: argparse would take "-Young" for an unknown option.

    Only a value that is not itself one of the command's options is attached."""
    argv = list(argv)
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    command = next((a for a in argv if not a.startswith("-")), None)
    if sub is None or command not in sub.choices:
        return argv
    cmd = sub.choices[command]
    flags = {s for a in cmd._actions if a.metavar == ATTRS for s in a.option_strings}
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if tok in flags and nxt is not None and nxt.startswith("-") and nxt not in cmd._option_string_actions:
            out.append(f"{tok}={nxt}")
            i += 2
        else:
            out.append(tok)
            i += 1
    return out


def refuse_empty_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An empty argument ('' from an unset shell variable) is a usage error: as a path it would silently mean the
    current folder, as a model or host the default (binding every interface)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in sub.choices[args.command]._actions:
        value = getattr(args, action.dest, None)
        if action.default != "" and (value == "" or (isinstance(value, list) and "" in value)):
            name = "/".join(action.option_strings) or action.metavar or action.dest
            sub.choices[args.command].error(f"argument {name}: an empty value; give one or leave the option out")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
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


def _register_unavailable(sub: "argparse._SubParsersAction[Any]", name: str, exc: Exception) -> None:
    why = f"the command {name!r} cannot load ({exc}); reinstall stargan-rt"

    def fail(_: argparse.Namespace) -> int:
        raise StarGanError(why)

    p = sub.add_parser(name, help="(unavailable)", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=fail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(attach_dash_values(parser, sys.argv[1:] if argv is None else argv))
    refuse_empty_values(parser, args)
    try:
        return int(args.func(args) or 0)
    except StarGanError as exc:
        print(f"stargan-rt {args.command}: error: {plain(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            raise
        where = exc.filename or "writing the output"
        print(f"stargan-rt {args.command}: error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stargan-rt {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
