"""Entry point (`stiggctl`, `python -m stiggctl`): runs the app and turns every failure into
the error vocabulary, an exit code, and (with --json) one JSON document on stdout."""

from __future__ import annotations

import os
import sys

GLOBAL_FLAGS = {"--json", "--no-input", "--verbose", "-v"}
GLOBAL_VALUE_OPTIONS = {"--profile"}


def hoist_global_options(args: list[str]) -> list[str]:
    """Move global options to the front, so `stiggctl config show --json` works like
    `stiggctl --json config show` (as gh's persistent flags do). Stops at `--`."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in GLOBAL_FLAGS or (arg.split("=", 1)[0] in GLOBAL_VALUE_OPTIONS and "=" in arg):
            front.append(arg)
        elif arg in GLOBAL_VALUE_OPTIONS and i + 1 < len(args):
            front.extend(args[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


# The spellings Typer reads as true in STIGGCTL_JSON: an error raised before Typer has
# parsed the options (a usage error) must come out in the same format as the result would.
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})


def _json_requested(args: list[str]) -> bool:
    return "--json" in args or os.environ.get("STIGGCTL_JSON", "").strip().lower() in _TRUE_WORDS


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        # Answered before Typer loads: scripts call this often.
        from stiggctl import __version__

        sys.stdout.write(f"stiggctl {__version__}\n")
        return 0
    code = run(hoist_global_options(args))
    if argv is None:
        sys.exit(code)
    return code


def run(args: list[str]) -> int:
    import typer
    from typer.main import get_command

    from stiggctl import errors
    from stiggctl.cli import app, current_context

    json_mode = _json_requested(args)
    try:
        result = get_command(app).main(args, prog_name="stiggctl", standalone_mode=False)
        if result == errors.ExitCode.INTERRUPTED:
            # Typer turns Ctrl-C into exit 130 silently; say it, in the chosen format.
            err = errors.StiggctlError(errors.ErrorCode.INTERRUPTED, "Interrupted.")
            return _report(err, json_mode, current_context())
        return result if isinstance(result, int) else 0
    except errors.StiggctlError as err:
        return _report(err, json_mode, current_context())
    except typer.Abort:
        err = errors.StiggctlError(errors.ErrorCode.INTERRUPTED, "Aborted.")
        return _report(err, json_mode, current_context())
    except KeyboardInterrupt:
        err = errors.StiggctlError(errors.ErrorCode.INTERRUPTED, "Interrupted.")
        return _report(err, json_mode, current_context())
    except typer.TyperException as exc:  # usage errors (bad option, missing argument)
        if not json_mode:
            from typer import rich_utils

            rich_utils.rich_format_error(exc)
            return int(getattr(exc, "exit_code", 2))
        err = errors.StiggctlError(
            errors.ErrorCode.USAGE_ERROR,
            exc.format_message() if hasattr(exc, "format_message") else str(exc),
            "Run `stiggctl --help` or `stiggctl COMMAND --help`.",
        )
        return _report(err, json_mode, current_context())
    except Exception as exc:
        ctx = current_context()
        if ctx is not None and ctx.verbose:
            import traceback

            traceback.print_exc()
        err = errors.StiggctlError(
            errors.ErrorCode.INTERNAL_ERROR,
            f"Unexpected {type(exc).__name__}: {exc}",
            "This is a bug in stiggctl; rerun with --verbose and report the traceback.",
        )
        return _report(err, json_mode, ctx)


def _report(err, json_mode: bool, ctx) -> int:
    from stiggctl.output import Output

    out = ctx.out if ctx is not None else Output(json_mode=json_mode)
    out.error(err)
    if ctx is not None and ctx.verbose and err.__cause__ is not None:
        import traceback

        traceback.print_exception(err.__cause__)
    return int(err.exit_code)


if __name__ == "__main__":
    main()
