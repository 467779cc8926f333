"""`vg`: argv → subcommand. The only place exceptions become exit statuses.

Heavy modules (yaml, bashlex, rich) are imported inside the subcommands that need them, so `vg check`
starts fast and `vg --help` starts instantly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from vgshell import __version__
from vgshell.errors import ExitStatus, UsageError, VgError

if TYPE_CHECKING:
    from vgshell.analyzer import Analyzer, Verdict
    from vgshell.config import Config
    from vgshell.context import Environment

AGENTS = ("claude-code", "codex", "cursor", "gemini", "vscode")
SHELL_ONLY = {"off": "stop judging commands", "on": "judge commands again",
              "mode": "override sandbox.mode: auto, always, risky or never (none: back to the config's)"}
STATUS_BY_ACTION = {"host": ExitStatus.HOST, "sandbox": ExitStatus.SANDBOX, "ask": ExitStatus.ASK,
                    "block": ExitStatus.BLOCK}


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Subcommands)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_quiet(parser: argparse.ArgumentParser) -> None:
    """`--quiet` of `vg` itself, also after the subcommand (`vg exec --quiet …`; SPEC §12)."""
    if "--quiet" not in parser._option_string_actions:
        parser.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                            help="no notices on stderr")


class _Subcommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Gives the chosen subcommand's parser `--quiet` when it is chosen: one option added, not one per parser
    on every start (argparse's cost is most of a standalone `vg check`'s own time)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        chosen = self._name_parser_map.get(values[0])
        if chosen is not None:
            _add_quiet(chosen)
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vg", description="vgshell: a command guard for developers and AI coding agents.",
                epilog="In a shell with the vg hook (and in vgshell): vg off, vg on, vg mode MODE and vg status act "
                       "on that shell only.")
    p.add_argument("--version", action="version", version=f"vg {__version__}")
    p.add_argument("--config", metavar="FILE", help="a config file above every other (below VG_* env)")
    p.add_argument("--quiet", "-q", action="store_true", help="no notices on stderr")
    p.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="decide about a command: exit 0 host, 10 sandbox, 20 ask, 30 block",
                           description="Analyse CMD (or, with '-', one command per stdin line as JSON Lines).")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--cwd", help="judge the command as run from this directory")
    check.add_argument("--stdin", action="store_true",
                       help="read one command line (newlines and all) from stdin, as the shell hooks do")
    check.add_argument("command", nargs=argparse.REMAINDER, help="the command line, or '-' for stdin")

    explain = sub.add_parser("explain", help="show the findings for a command as a table")
    explain.add_argument("--cwd", help="judge the command as run from this directory")
    explain.add_argument("command", nargs=argparse.REMAINDER)

    ex = sub.add_parser("exec", help="run a command line: on the host, in a sandbox, or not at all",
                        description="Analyse and run CMD as bash would run it (pipes, redirections, &&). "
                                    "The exit status is the command's, 124 on sandbox timeout, 126 when "
                                    "blocked or refused.")
    ex.add_argument("--sandbox", metavar="RUNTIME", help="run it in the sandbox (bubblewrap, docker, podman or "
                    "auto) and nowhere else: the decision was made already (what an agent hook's rewrite runs)")
    ex.add_argument("--agent", metavar="NAME", help="the AI agent whose command this is, for the records")
    ex.add_argument("--decision", metavar="TOKEN",
                    help="run the sandbox the analyzer decided on for a hooked shell's line (no judging here)")
    ex.add_argument("--interactive", "-i", action="store_true",
                    help="ask at the terminal about a high-risk command even where the policy would run it unasked")
    ex.add_argument("--session", metavar="ID", help="record the run under this session id (VG_SESSION)")
    ex.add_argument("--no-cache", action="store_true",
                    help="run it even when the result cache holds its result (SPEC §8); the run is not recorded")
    ex.add_argument("command", nargs=argparse.REMAINDER, help="the line as one argument, or -- ARGV...")

    hook = sub.add_parser("hook", help="judge an AI agent's shell command: its hook payload in, its answer out",
                          description="Read AGENT's hook payload on stdin; answer allow, a rewrite into the "
                                      "sandbox, ask, or deny (exit 2) in AGENT's format. See docs/agents.md.")
    hook.add_argument("agent", choices=AGENTS)
    setup = sub.add_parser("setup", help="install the vg hook into an AI agent's settings files",
                           description="Write AGENT's hook configuration (a timestamped backup first; comments "
                                       "kept; idempotent). vscode and cursor: also a vgshell terminal profile, "
                                       "made the default, automation and agent terminal profile. See "
                                       "docs/agents.md.")
    setup.add_argument("agent", choices=AGENTS)
    scope = setup.add_mutually_exclusive_group()
    scope.add_argument("--user", action="store_true", help="the user's settings (the default)")
    scope.add_argument("--project", action="store_true", help="this project's settings")
    setup.add_argument("--shell-prefix", action="store_true",
                       help="claude-code: also route every Bash call through vg (CLAUDE_CODE_SHELL_PREFIX)")
    setup.add_argument("--profile", choices=("vgshell", "bash-hook"), default="vgshell",
                       help="vscode, cursor: the editor's terminals run vgshell (the default) or bash with the hook")
    setup.add_argument("--settings", metavar="PATH",
                       help="vscode, cursor: this settings.json instead of the user's (stable and Insiders found)")
    setup.add_argument("--uninstall", action="store_true", help="remove what setup wrote")
    setup.add_argument("--dry-run", action="store_true", help="show the change, write nothing")

    config = sub.add_parser("config", help="inspect the configuration; approve a project's vectra-guard.yaml")
    config_sub = config.add_subparsers(dest="config_cmd", metavar="ACTION", parser_class=_Parser)
    show = config_sub.add_parser("show", help="every key, its value and the file that set it")
    show.add_argument("--json", action="store_true")
    config_sub.add_parser("path", help="the config files in effect, lowest precedence first")
    allow = config_sub.add_parser("allow", help="let a project file loosen the guard (this exact content)",
                                  description="A project's vectra-guard.yaml may only tighten the guard until "
                                              "you approve its exact content; any edit revokes the approval.")
    allow.add_argument("path", nargs="?", help="the file (default: the project file in effect here)")
    deny = config_sub.add_parser("deny", help="withdraw the approval of a project file")
    deny.add_argument("path", nargs="?", help="the file (default: the project file in effect here)")
    status = config_sub.add_parser("status", help="the files in effect, approvals, and what is left out")
    status.add_argument("--json", action="store_true")

    init = sub.add_parser("init", help="print the bash/zsh hook, or write vectra-guard.yaml from a preset",
                          description="'vg init bash' / 'vg init zsh' print the lines for ~/.bashrc / ~/.zshrc "
                                      "(use: eval \"$(vg init bash)\"); 'vg init --preset NAME' writes "
                                      "vectra-guard.yaml.")
    init.add_argument("shell", nargs="?", choices=("bash", "zsh"), help="print the hook for this shell")
    init.add_argument("--preset", help="developer, ci-cd or production")
    init.add_argument("--force", action="store_true", help="overwrite an existing vectra-guard.yaml")

    analyzer = sub.add_parser("analyzer", help="the long-lived analyzer the shell hooks use",
                              description="start (in the background unless --foreground), stop, status.")
    analyzer.add_argument("action", choices=("start", "stop", "status"))
    analyzer.add_argument("--foreground", action="store_true", help="serve in this process")
    trust = sub.add_parser("trust", help="the store of approved-and-remembered commands")
    trust_sub = trust.add_subparsers(dest="trust_cmd", metavar="ACTION", parser_class=_Parser)
    trust_list = trust_sub.add_parser("list", help="every remembered command, its uses and expiry")
    trust_list.add_argument("--json", action="store_true")
    trust_add = trust_sub.add_parser("add", help="remember a command (never a critical one)")
    trust_add.add_argument("command", nargs="+", help="the command line (quote it, or put it after --)")
    trust_add.add_argument("--note", default="", help="why it is trusted")
    trust_add.add_argument("--expires", metavar="DURATION", help="forget it after 30m, 12h, 7d, 2w …")
    trust_remove = trust_sub.add_parser("remove", help="forget a command")
    trust_remove.add_argument("command", nargs="+")
    trust_sub.add_parser("clean", help="drop expired entries")
    trust_sub.add_parser("path", help="print the trust store's path")
    metrics = sub.add_parser("metrics", help="what vgshell decided and ran: totals, durations, time saved")
    metrics_sub = metrics.add_subparsers(dest="metrics_cmd", metavar="ACTION", parser_class=_Parser)
    metrics_show = metrics_sub.add_parser("show", help="totals by outcome, risk and runtime")
    metrics_show.add_argument("--json", action="store_true")
    metrics_reset = metrics_sub.add_parser("reset", help="delete every record (asks first)")
    metrics_reset.add_argument("--yes", action="store_true", help="do not ask")
    cache = sub.add_parser("cache", help="the result cache: replayed sandboxed commands (stats, clear, prune)")
    cache_sub = cache.add_subparsers(dest="cache_cmd", metavar="ACTION", parser_class=_Parser)
    cache_stats = cache_sub.add_parser("stats", help="location, entries, size, hit rate, oldest and newest")
    cache_stats.add_argument("--path", help="only the entries of this project directory (and below)")
    cache_stats.add_argument("--json", action="store_true", help="machine-readable output")
    cache_clear = cache_sub.add_parser("clear", help="remove every entry, or those of one command")
    cache_clear.add_argument("--command", metavar="C", help="only this command (normalized; a glob matches too)")
    cache_inval = cache_sub.add_parser("invalidate", help="remove the entries matching a pattern")
    cache_inval.add_argument("--pattern", required=True,
                             help="TOOL:GLOB (npm:*, pip:install *) or a glob over the whole command")
    cache_prune = cache_sub.add_parser("prune", help="remove old entries, or the least recently used past a size")
    cache_prune.add_argument("--max-age", metavar="AGE", help="remove entries recorded longer ago (7d, 12h, 2w)")
    cache_prune.add_argument("--max-size", metavar="SIZE", help="then evict down to this size (500M, 1G)")
    audit = sub.add_parser("audit", help="what ran, what was blocked, and why")
    audit.add_argument("--since", metavar="DURATION", help="only the last 30m, 12h, 1d, 2w …")
    audit.add_argument("--decision", choices=("host", "sandbox", "ask", "block"), help="only this decision")
    audit.add_argument("--risk", choices=("low", "medium", "high", "critical"), help="only this level or above")
    audit.add_argument("--agent", choices=AGENTS, help="only this AI agent's commands")
    audit.add_argument("--limit", type=int, default=200, help="the newest N records (default 200; 0 = all)")
    audit.add_argument("--json", action="store_true")
    session = sub.add_parser("session", help="the recorded shells and processes (VG_SESSION)")
    session_sub = session.add_subparsers(dest="session_cmd", metavar="ACTION", parser_class=_Parser)
    session_list = session_sub.add_parser("list", help="every session, newest first")
    session_list.add_argument("--json", action="store_true")
    session_show = session_sub.add_parser("show", help="the records of one session")
    session_show.add_argument("id", help="a session id or a unique prefix of one")
    session_show.add_argument("--json", action="store_true")
    changes = sub.add_parser("changes", help="what sandboxed runs wrote, kept for review (project_writes: review)")
    changes_sub = changes.add_subparsers(dest="changes_cmd", metavar="ACTION", parser_class=_Parser)
    changes_list = changes_sub.add_parser("list", help="every kept change, oldest first")
    changes_list.add_argument("--json", action="store_true")
    for action, text in (("show", "the summary and diffs of one change"),
                         ("apply", "write one change into the project (refuses what changed there since)"),
                         ("discard", "throw one change away")):
        one = changes_sub.add_parser(action, help=text)
        one.add_argument("id", help="a change id or a unique prefix of one")
        one.add_argument("--json", action="store_true")
    sub.add_parser("status", help="the guard's configuration: managed policy, project trust, critical rules off")
    doctor = sub.add_parser("doctor", help="what works here (sandboxes, config, hooks, state), and the fixes",
                            description="Exit status 1 when something the configuration relies on is broken.")
    doctor.add_argument("--json", action="store_true", help="print one JSON object")
    sub.add_parser("version", help="print the version")
    completion = sub.add_parser("completion", help="print a bash or zsh completion script for vg",
                                description="bash: eval \"$(vg completion bash)\" in ~/.bashrc; zsh: "
                                            "eval \"$(vg completion zsh)\" in ~/.zshrc (after compinit).")
    completion.add_argument("shell", choices=("bash", "zsh"))
    return p


def with_quiet_everywhere(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Every subcommand's parser with its `--quiet` added now (for `vg completion`, which lists them all)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in set(action.choices.values()):
                _add_quiet(child)
                with_quiet_everywhere(child)
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """argparse, and then long options written after a quoted command (`vg check "rm -rf /" --json`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    words = getattr(args, "command", None)
    if args.cmd in ("check", "explain", "exec") and words and words[0] != "--" and len(words) > 1:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.cmd]
        if _only_long_options(sub, words[1:]):
            sub.parse_args(words[1:], namespace=args)
            args.command = words[:1]
    return args


def _subcommand(argv: list[str]) -> str | None:
    """The first word that is not one of vg's own options (`vg --quiet --config F off` → off)."""
    i = 0
    while i < len(argv):
        if argv[i] == "--config":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return argv[i]
    return None


def _only_long_options(parser: argparse.ArgumentParser, words: list[str]) -> bool:
    """Whether `words` are all long options of `parser` (and their values): then they are not the command's."""
    takes = {s: a.nargs != 0 for a in parser._actions for s in a.option_strings if s.startswith("--")}
    i = 0
    while i < len(words):
        name = words[i].split("=", 1)[0]
        if name not in takes:
            return False
        i += 2 if takes[name] and "=" not in words[i] else 1
    return i == len(words)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hook"]:  # the agent hot path: no argparse tree, and it fails closed on its own
        from vgshell.agents.hook import main as hook_main

        return int(hook_main(args_list[1:]))
    traceback = "--traceback" in args_list
    try:
        first = _subcommand(args_list)
        if first in SHELL_ONLY:  # no subparsers for them: nothing to build per start
            raise _shell_only(first)
        args = _parse(args_list)
        return int(_dispatch(args))
    except VgError as e:
        if traceback:
            raise
        sys.stderr.write(e.render() + "\n")
        return int(e.status)
    except KeyboardInterrupt:
        return int(ExitStatus.INTERRUPTED)
    except BrokenPipeError:  # the reader left (`vg audit | head`): that is how such output ends, not an error
        _quiet_stdout()
        return int(ExitStatus.OK)
    except Exception as e:
        if traceback:
            raise
        sys.stderr.write(f"vg: internal error: {type(e).__name__}: {e} (run with --traceback for details)\n")
        return int(ExitStatus.ERROR)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so the flush at exit does not hit the closed pipe again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def shell_main() -> int:
    """`vgshell`: see vgshell.shell.main (kept light: `vgshell -c` is an agent's every command)."""
    from vgshell.shell.main import main as shell

    return shell()


def _dispatch(args: argparse.Namespace) -> int:
    handlers: dict[str | None, Callable[[argparse.Namespace], int]] = {
        "check": _cmd_check, "explain": _cmd_explain, "exec": _cmd_exec, "config": _cmd_config, "init": _cmd_init,
        "analyzer": _cmd_analyzer, "status": _cmd_status,
        "version": lambda _a: _print(f"vg {__version__}"),
        "trust": _cmd_trust, "metrics": _cmd_metrics, "audit": _cmd_audit, "session": _cmd_session,
        "hook": _cmd_hook, "setup": _cmd_setup, "completion": _cmd_completion, "doctor": _cmd_doctor,
        "cache": _cmd_cache, "changes": _cmd_changes,
    }
    if args.cmd is None:
        build_parser().print_help()
        return int(ExitStatus.USAGE)
    return handlers[args.cmd](args)


def _print(text: str) -> int:
    sys.stdout.write(text + "\n")
    return int(ExitStatus.OK)


def _environment(cwd: str | None = None) -> Environment:
    import os

    from vgshell.context import Environment

    if cwd is not None:
        return Environment(cwd=os.path.abspath(cwd))
    return Environment()


def _analyzer(args: argparse.Namespace) -> Analyzer:
    from vgshell.analyzer import Analyzer
    from vgshell.config import load_config

    env = _environment(getattr(args, "cwd", None))
    return Analyzer(env, load_config(env, args.config))


def _command_text(args: argparse.Namespace) -> str:
    if getattr(args, "stdin", False):
        return sys.stdin.read()
    words = [w for w in args.command]
    if words[:1] == ["--"]:
        words = words[1:]
    if not words:
        raise UsageError(f"'vg {args.cmd}' needs a command, e.g. vg {args.cmd} \"rm -rf ~\"")
    return words[0] if len(words) == 1 else " ".join(words)


def _cmd_check(args: argparse.Namespace) -> int:
    text = _command_text(args) if args.command != ["-"] else ""
    if args.command != ["-"] and args.config is None:
        answer = _check_with_analyzer(args, text)
        if answer is not None:
            return answer
    analyzer = _analyzer(args)
    _say_config_notices(args, analyzer.env, analyzer.cfg, analyzer.kept_critical)
    if args.command == ["-"]:
        return _check_stream(analyzer)
    verdict = analyzer.check(text)
    if args.json:
        sys.stdout.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
    else:
        from vgshell.output import check_line

        sys.stdout.write(check_line(verdict) + "\n")
    _record_check(analyzer, verdict)
    return int(STATUS_BY_ACTION[verdict.decision.action])


def _check_with_analyzer(args: argparse.Namespace, text: str) -> int | None:
    """The running analyzer's answer (a hooked shell keeps one alive), without loading the rules here."""
    import os

    from vgshell import client

    env = os.environ
    human = sys.stdin.isatty() and sys.stderr.isatty()
    cwd = os.path.abspath(args.cwd) if args.cwd else os.getcwd()
    data = client.check(text, cwd, env, human)
    if data is None:
        return None
    for said in data.pop("notices", None) or ():
        if not args.quiet:
            sys.stderr.write(f"{said}\n")
    if args.json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(f"{data['decision']} ({data['risk']}): {data['reason']}\n")
    return int(STATUS_BY_ACTION[data["decision"]])


def _check_stream(analyzer: Analyzer) -> int:
    """JSON Lines: one object per input line, flushed at once, so `vg check -` can serve as a co-process."""
    out = sys.stdout
    for line in sys.stdin:
        verdict: Verdict = analyzer.check(line.rstrip("\n"))
        out.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
        out.flush()
        _record_check(analyzer, verdict)  # after the answer is out: a co-process reader never waits for it
    return int(ExitStatus.OK)


def _cmd_exec(args: argparse.Namespace) -> int:
    import shlex

    from vgshell.config import load_config
    from vgshell.execute import run_command, run_decided

    if args.session is not None:
        import os

        os.environ["VG_SESSION"] = args.session  # for the records, and for the sandbox labels
    if args.decision is not None:
        if args.command and args.agent is None:
            raise UsageError("'vg exec --decision TOKEN' takes no command: the decision names it")
        expect = _command_text(args) if args.command else None  # an agent's rewrite shows it: checked, not judged
        return run_decided(args.decision, _environment(), agent=args.agent, expect=expect)
    words = list(args.command)
    if words[:1] == ["--"]:
        if len(words) < 2:
            raise UsageError("'vg exec --' needs a command after '--'")
        line = shlex.join(words[1:])
    else:
        line = _command_text(args)
    env = _environment()
    cfg = load_config(env, args.config)
    _say_config_notices(args, env, cfg)
    return run_command(line, env, cfg, quiet=args.quiet, sandbox=args.sandbox, agent=args.agent,
                       interactive=args.interactive, no_cache=args.no_cache)


def _say_config_notices(args: argparse.Namespace, env: Environment, cfg: Config,
                        kept_critical: tuple[str, ...] = ()) -> None:
    """A project's loosening left out, a broken managed file…: once per file and session, on stderr."""
    from vgshell.layers import NoticeLog, notice_session, notices

    pending = notices(cfg, kept_critical)
    if pending and not args.quiet:
        for said in NoticeLog(env.state_dir).due(notice_session(env), pending):
            sys.stderr.write(f"{said}\n")


def _cmd_hook(args: argparse.Namespace) -> int:
    from vgshell.agents.hook import main as hook_main

    return hook_main([args.agent])


def _cmd_setup(args: argparse.Namespace) -> int:
    from vgshell.agents.setup import run_setup

    return run_setup(args.agent, _environment(), project=args.project, shell_prefix=args.shell_prefix,
                     uninstall=args.uninstall, dry_run=args.dry_run, out=sys.stdout, profile=args.profile,
                     settings=args.settings)


def _cmd_explain(args: argparse.Namespace) -> int:
    from vgshell.output import explain

    analyzer = _analyzer(args)
    verdict = analyzer.check(_command_text(args))
    explain(verdict, analyzer.env, sys.stdout)
    return int(ExitStatus.OK)


def _cmd_config(args: argparse.Namespace) -> int:
    from vgshell.config import config_files, load_config, render_config_show

    env = _environment()
    action = args.config_cmd
    if action in ("allow", "deny", "status"):
        from vgshell import configcli

        return int(getattr(configcli, action)(env, args))
    if action == "path":
        found = config_files(env, args.config)
        if not found:
            from vgshell.layers import user_path

            sys.stderr.write(f"vg: config: no config file in effect here, the built-in defaults apply (the "
                             f"user file would be {user_path(env)}, a project file vectra-guard.yaml in "
                             f"{env.cwd} or above; see 'vg config show')\n")
            return int(ExitStatus.ERROR)
        for f in found:
            sys.stdout.write(f"{f}\n")
        return int(ExitStatus.OK)
    if action != "show":
        raise UsageError("'vg config' needs an action: show, path, allow, deny or status")
    rows = render_config_show(load_config(env, args.config))
    if args.json:
        data = {key: {"value": value, "source": source} for key, value, source in rows}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return int(ExitStatus.OK)
    width = max(len(r[0]) for r in rows)
    vwidth = min(40, max(len(r[1]) for r in rows))
    for key, value, source in rows:
        sys.stdout.write(f"{key:<{width}}  {value:<{vwidth}}  {source}\n")
    return int(ExitStatus.OK)


NO_HOOK = ("this shell has no vg hook, so the commands typed here are not judged; to guard it, add "
           "eval \"$(vg init bash)\" to ~/.bashrc (or zsh to ~/.zshrc), or run vgshell")


def _cmd_status(args: argparse.Namespace) -> int:
    import os

    from vgshell import configcli

    if not os.environ.get("VG_SESSION"):  # the hooks export it; a hooked shell says its own line first
        sys.stdout.write(f"vgshell: {NO_HOOK}\n")
    return int(configcli.summary(_environment(), args))


def _shell_only(name: str) -> UsageError:
    """`vg off|on|mode` reach vg only where no hook's `vg` function caught them: say what they would do."""
    return UsageError(f"'vg {name}' acts on a hooked shell only ({SHELL_ONLY[name]}); {NO_HOOK}. For one "
                      f"command: VG_GUARD_LEVEL=off or VG_MODE=MODE in its environment; everywhere: "
                      f"guard_level / sandbox.mode in ~/.vectra-guard/config.yaml")


def _cmd_doctor(args: argparse.Namespace) -> int:
    from vgshell import doctor

    return doctor.run(_environment(), args.config, args.json, sys.stdout)


def _cmd_completion(args: argparse.Namespace) -> int:
    from vgshell.completion import script

    return _print(script(with_quiet_everywhere(build_parser()), args.shell))


def _cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vgshell.config import write_preset

    if args.shell:
        return _print(_hook_lines(args.shell))
    if not args.preset:
        raise UsageError("'vg init' needs a shell (bash, zsh) or --preset NAME")
    env = _environment()
    dest = write_preset(args.preset, Path(env.cwd) / "vectra-guard.yaml", force=args.force)
    return _print(f"wrote {dest} from the {args.preset!r} preset")


def _hook_lines(shell: str) -> str:
    """Two lines for the rc file: where `vg` is, and the hook script shipped in the package."""
    import os
    import shlex
    from pathlib import Path

    script = Path(__file__).resolve().with_name("hooks") / f"vg.{shell}"
    vg = os.path.abspath(sys.argv[0]) if os.path.basename(sys.argv[0]) == "vg" else "vg"
    return f"VG_BIN={shlex.quote(vg)}\nsource {shlex.quote(str(script))}"


def _cmd_analyzer(args: argparse.Namespace) -> int:
    from vgshell import server

    env = _environment()
    if args.action == "start":
        pid = server.start(env, foreground=args.foreground)
        return _print(f"analyzer running (pid {pid})")
    if args.action == "stop":
        return _print("analyzer stopped" if server.stop(env) else "no analyzer was running")
    st = server.alive(env)
    if st is None:
        sys.stdout.write("analyzer: not running\n")
        return int(ExitStatus.ERROR)
    return _print(f"analyzer: running (pid {st.get('pid')}, port {st.get('port')}, version {st.get('version')})")


def _cmd_trust(args: argparse.Namespace) -> int:
    from vgshell import trust
    from vgshell.config import load_config

    env = _environment()
    cfg = load_config(env, args.config)
    path = trust.store_path(env.state_dir, cfg.trust.store_path, env.home)
    action = args.trust_cmd
    if action == "path":
        return _print(str(path))
    if action == "list":
        return _trust_list(env, path, args.json)
    if action == "clean":
        n = trust.clean(path, env.clock(), sys.stderr)
        return _print(f"removed {n} expired entr{'y' if n == 1 else 'ies'}")
    if action not in ("add", "remove"):
        raise UsageError("'vg trust' needs an action: list, add, remove, clean or path")
    command = " ".join(args.command)
    if action == "remove":
        if not trust.remove(path, command, sys.stderr):
            raise trust.TrustError(f"{command!r} is not in the trust store (see 'vg trust list')")
        return _print(f"removed {command!r}")
    expires = None
    if args.expires is not None:
        from vgshell.schema import duration_seconds

        expires = duration_seconds(args.expires)
        if expires is None:
            raise UsageError(f"--expires must be a duration like 30m, 12h, 7d or 2w; got {args.expires!r}")
    entry = trust.remember(env, cfg, command, "vg trust add", args.note, expires)
    until = f" until {trust.iso(entry.expires_at)}" if entry.expires_at else ""
    return _print(f"trusted {entry.command!r}{until}")


def _trust_list(env: Environment, path: object, as_json: bool) -> int:
    from pathlib import Path

    from vgshell import trust
    from vgshell.output import table

    assert isinstance(path, Path)
    now = env.clock()
    entries = sorted(trust.read(path, sys.stderr)[0].values(), key=lambda e: e.approved_at)
    if as_json:
        data = {"version": trust.FORMAT_VERSION, "path": str(path),
                "entries": [{**e.to_json(), "expired": e.expired(now)} for e in entries]}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return int(ExitStatus.OK)
    if not entries:
        return _print(f"no trusted commands ({path})")
    rows = [(e.command, trust.ago(now - e.approved_at), str(e.use_count),
             "never" if e.last_used is None else trust.ago(now - e.last_used),
             "expired" if e.expired(now) else (trust.iso(e.expires_at) or "never"), e.note) for e in entries]
    table(env, sys.stdout, ("COMMAND", "APPROVED", "USES", "LAST USED", "EXPIRES", "NOTE"), rows)
    return int(ExitStatus.OK)


def _record_check(analyzer: Analyzer, verdict: Verdict) -> None:
    """A `vg check` decision joins the records, after the answer is out (sqlite3 loads only now)."""
    if analyzer.cfg.metrics.enabled:
        from vgshell import records

        sys.stdout.flush()
        env = analyzer.env
        records.record_decision(env.state_dir, verdict, session=records.session_id(env.env), cwd=env.cwd,
                                warn=sys.stderr)


def _json_out(data: object) -> int:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return int(ExitStatus.OK)


def _report(args: argparse.Namespace, env: Environment, data: Any,
            show: Callable[[Environment, TextIO, Any], None]) -> int:
    """`--json` prints the data; otherwise `show` renders it (a rich table on a terminal, plain text else)."""
    if args.json:
        return _json_out(data)
    show(env, sys.stdout, data)
    return int(ExitStatus.OK)


def _cmd_metrics(args: argparse.Namespace) -> int:
    from vgshell import metrics, records

    env = _environment()
    if args.metrics_cmd == "show":
        return _report(args, env, metrics.summary(env.state_dir), metrics.show_summary)
    if args.metrics_cmd != "reset":
        raise UsageError("'vg metrics' needs an action: show or reset")
    path = records.db_path(env.state_dir)
    if not args.yes:
        if not env.human_present:
            raise UsageError("'vg metrics reset' deletes every record; pass --yes to confirm without a terminal")
        sys.stderr.write(f"delete every record in {path}? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return _print("kept the records")
    n = records.reset(env.state_dir)
    return _print(f"deleted {n} record{'s' if n != 1 else ''}")


def _cmd_cache(args: argparse.Namespace) -> int:
    from vgshell.resultcache import report

    env = _environment()
    result = report.run(env, args.cache_cmd, path=getattr(args, "path", None), command=getattr(args, "command", None),
                        pattern=getattr(args, "pattern", None), max_age=getattr(args, "max_age", None),
                        max_size=getattr(args, "max_size", None))
    if isinstance(result, str):
        return _print(result)
    return _report(args, env, result, report.show_stats)


def _cmd_audit(args: argparse.Namespace) -> int:
    from vgshell import metrics

    env = _environment()
    since = None
    if args.since is not None:
        from vgshell.schema import duration_seconds

        seconds = duration_seconds(args.since)
        if seconds is None:
            raise UsageError(f"--since must be a duration like 30m, 12h, 1d or 2w; got {args.since!r}")
        since = env.clock() - seconds
    rows = metrics.audit(env.state_dir, since, args.decision, args.risk, args.limit or None, args.agent)
    return _report(args, env, rows, metrics.show_records)


def _cmd_session(args: argparse.Namespace) -> int:
    from vgshell import metrics

    env = _environment()
    if args.session_cmd == "list":
        return _report(args, env, metrics.sessions(env.state_dir), metrics.show_sessions)
    if args.session_cmd != "show":
        raise UsageError("'vg session' needs an action: list or show ID")
    return _report(args, env, metrics.session(env.state_dir, args.id), metrics.show_records)


def _cmd_changes(args: argparse.Namespace) -> int:
    from vgshell import changescli

    return changescli.run(args.changes_cmd, getattr(args, "id", None), getattr(args, "json", False), _environment())


if __name__ == "__main__":
    raise SystemExit(main())
