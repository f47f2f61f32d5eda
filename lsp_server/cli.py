"""The `tide-lsp` command: serve (default), complete, fix, tune, models list|pull|path."""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from . import __version__, models
from .completion.generate import Generator, complete_once
from .completion.trigger import skip_reason
from .config import LOG_LEVELS, Settings, apply_settings
from .engines.choice import ENGINES
from .engines.loading import load_engine, locate_model
from .errors import TideError
from .text.documents import DocumentStore, Pos
from .text.languages import language_for
from .tuning.command import add_tune_arguments, run_tune


def _configure_logging(level: str, log_file: str | None) -> None:
    # stdout carries the protocol; logs go to stderr or a file, never stdout.
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("lsp_server", "tide"):
        logging.getLogger(name).setLevel(getattr(logging, level.upper()))
    # llama.cpp's own warnings are about the model file, not the user's work; keep them for
    # debugging sessions.
    native = logging.DEBUG if level == "debug" else logging.ERROR
    logging.getLogger("tide.llama_cpp").setLevel(native)


def _settings_from(args: argparse.Namespace) -> Settings:
    raw = {"model": args.model} if args.model else {}
    if getattr(args, "engine", None):
        raw["engine"] = args.engine
    if getattr(args, "log_level", None):
        raw["logLevel"] = args.log_level
    settings, errors = apply_settings(Settings(), raw)
    if errors:
        raise SystemExit("tide-lsp: " + "; ".join(errors))
    return settings


def _serve(args: argparse.Namespace) -> int:
    from .lsp.server import create_server

    server = create_server(_settings_from(args))
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        if not host or not port.isdigit():
            raise SystemExit(f"tide-lsp: --tcp wants HOST:PORT, got {args.tcp!r}")
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    return 0


def _parse_location(spec: str) -> tuple[Path, int, int]:
    path, _, rest = spec.partition(":")
    line, _, col = rest.partition(":")
    if not (line.isdigit() and col.isdigit()) or int(line) < 1 or int(col) < 1:
        raise SystemExit(f"tide-lsp: expected FILE:LINE:COL (1-based), got {spec!r}")
    return Path(path), int(line), int(col)


def _complete(args: argparse.Namespace) -> int:
    path, line, col = _parse_location(args.location)
    settings = _settings_from(args)
    snapshot = _open_file(path)
    started = time.perf_counter()
    cursor = snapshot.offset_at(Pos(line - 1, col - 1))
    generator = Generator(load_engine(locate_model(settings, _print_progress), settings))
    load_ms = (time.perf_counter() - started) * 1000
    reason = skip_reason(snapshot, settings)
    if reason:
        raise SystemExit(f"tide-lsp: {reason}")
    result = complete_once(generator, snapshot, cursor, settings)
    completion = ""
    if result.edit is not None:
        typed = cursor - result.edit.start
        completion = result.edit.text[typed:]
    if args.json:
        print(
            json.dumps(
                {
                    "text": completion,
                    "latency_ms": round(result.engine_ms, 1),
                    "model": result.model,
                    "load_ms": round(load_ms, 1),
                    "edit": None if result.edit is None else _edit_json(snapshot, result.edit),
                }
            )
        )
    else:
        print(completion)
    return 0


def _fix(args: argparse.Namespace) -> int:
    from .fixes.candidates import FixFinder, FixTarget
    from .fixes.diagnostics import syntax_diagnostics, unlikely_diagnostics
    from .fixes.scoring import ScoreCache

    path, _, line_text = args.location.rpartition(":")
    if not path or not line_text.isdigit() or int(line_text) < 1:
        raise SystemExit(f"tide-lsp: expected FILE:LINE (1-based), got {args.location!r}")
    snapshot = _open_file(Path(path))
    line = int(line_text) - 1
    if line >= snapshot.line_count:
        raise SystemExit(f"tide-lsp: {path} has {snapshot.line_count} lines")
    settings = _settings_from(args)
    engine = load_engine(locate_model(settings, _print_progress), settings)
    problems = syntax_diagnostics(snapshot)
    severity = settings.unlikely_severity
    if severity != "off":
        try:
            unlikely = unlikely_diagnostics(engine, snapshot, ScoreCache(), severity, lambda: False)
            problems += unlikely or []
        except TideError as exc:
            # As in the server: an engine that cannot score leaves the syntax diagnostics.
            print(f"tide-lsp: no unlikely-code diagnostics: {exc}", file=sys.stderr)
    here = [p for p in problems if snapshot.pos_at(p.start).line <= line <= _last_line(snapshot, p)]
    message = here[0].message if here else ""
    started = time.perf_counter()
    finder = FixFinder(engine, verify=settings.verify_fixes)
    fixes = finder.find(FixTarget(snapshot, line, line, message), lambda: False)
    fix_ms = (time.perf_counter() - started) * 1000
    if args.json:
        diagnostics = [
            {
                "line": snapshot.pos_at(p.start).line + 1,
                "severity": p.severity,
                "message": p.message,
            }
            for p in here
        ]
        ranked = [
            {
                "title": f.title,
                "source": f.source,
                "logprob": round(f.logprob, 3),
                "edit": _edit_json(snapshot, f),
            }
            for f in fixes
        ]
        print(json.dumps({"diagnostics": diagnostics, "fixes": ranked, "fix_ms": round(fix_ms)}))
        return 0
    for problem in here:
        print(f"{path}:{line + 1}: {problem.severity}: {problem.message}")
    if not here:
        print(f"{path}:{line + 1}: no diagnostics")
    for rank, fix in enumerate(fixes, 1):
        print(f"{rank}. {fix.title}  [{fix.source}, mean logprob {fix.logprob:.2f}]")
    if not fixes:
        print("no verified fix found")
    return 0


def _last_line(snapshot, problem) -> int:
    return snapshot.pos_at(max(problem.start, problem.end - 1)).line


def _open_file(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"tide-lsp: cannot read {path}: {exc}") from exc
    info = language_for(path=str(path))
    store = DocumentStore(encoding="utf-32")  # editors' columns count characters
    return store.open(path.resolve().as_uri(), info.id if info else "plaintext", 0, text)


def _edit_json(snapshot, edit) -> dict:
    """The edit with 1-based line:col positions, as the command line takes them."""
    start, end = snapshot.pos_at(edit.start), snapshot.pos_at(edit.end)
    return {
        "start": [start.line + 1, start.character + 1],
        "end": [end.line + 1, end.character + 1],
        "text": edit.text,
    }


def _print_progress(message: str, done: int, total: int | None) -> None:
    share = f" {done * 100 // total}%" if total else ""
    print(f"\r{message}{share}", end="", file=sys.stderr, flush=True)
    if total and done >= total:
        print(file=sys.stderr)


def _models(args: argparse.Namespace) -> int:
    cache = models.cache_dir(args.model_dir)
    if args.models_command == "list":
        for spec, path in models.list_models(cache):
            mark = "*" if spec.default else " "
            where = str(path) if path else "not downloaded"
            size = f"{spec.size / 1e6:.0f} MB" if spec.size else "size unknown"
            print(f"{mark} {spec.name:40} {spec.family:16} {size:>12}  {where}")
        _list_adapters(cache)
        return 0
    registry = models.load_registry()
    name = args.name or models.default_model(registry).name
    if name not in registry:
        raise SystemExit(f"tide-lsp: unknown model {name!r}; see `tide-lsp models list`")
    spec = registry[name]
    if args.models_command == "pull":
        print(models.pull(spec, cache, _print_progress))
    else:
        path = models.model_path(spec, cache)
        if not path.exists():
            raise SystemExit(
                f"tide-lsp: {name} is not downloaded; run `tide-lsp models pull {name}`"
            )
        print(path)
    return 0


def _list_adapters(cache: Path) -> None:
    from .tuning.adapters import list_adapters

    listings = list_adapters(cache)
    if listings:
        print("adapters (tide-lsp tune):")
    for listing in listings:
        manifest = listing.manifest
        if manifest is None:
            print(f"  {listing.directory}: unfinished or damaged ({listing.error})")
            continue
        print(
            f"  {manifest.workspace}  {manifest.purpose} on {manifest.base_name} (sha256 "
            f"{manifest.base_sha256[:12]})  rank {manifest.rank}, {manifest.steps} steps  "
            f"{manifest.gguf_path}"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tide-lsp", description="Local code completion over LSP from a quantized code model."
    )
    parser.add_argument("--version", action="version", version=f"tide-lsp {__version__}")

    def common(p: argparse.ArgumentParser, default=None) -> None:
        # Sub-commands repeat the options with SUPPRESS defaults, so `tide-lsp --model X
        # complete ...` keeps X instead of the sub-parser resetting it.
        p.add_argument(
            "--model",
            default=default,
            help="registry name, GGUF file, model directory, hub id, or http(s):// server URL",
        )
        p.add_argument(
            "--engine",
            choices=ENGINES,
            default=default,
            help="engine to run the model (default: chosen from the model reference)",
        )
        p.add_argument("--log-level", choices=LOG_LEVELS, default=default)
        p.add_argument("--log-file", default=default, help="write logs here instead of stderr")
        p.add_argument(
            "--tcp", metavar="HOST:PORT", default=default, help="listen on TCP instead of stdio"
        )
        # Many LSP clients (vscode-languageclient among them) append --stdio; it is the default.
        p.add_argument("--stdio", action="store_true", default=default, help=argparse.SUPPRESS)

    common(parser)
    sub = parser.add_subparsers(dest="command")
    common(sub.add_parser("serve", help="run the language server (the default)"), argparse.SUPPRESS)
    complete = sub.add_parser("complete", help="print the completion at FILE:LINE:COL")
    common(complete, argparse.SUPPRESS)
    complete.add_argument("location", help="FILE:LINE:COL, 1-based as editors show them")
    complete.add_argument("--json", action="store_true", help="print text, latency_ms and model")
    fix = sub.add_parser("fix", help="print the diagnostics and ranked fixes for FILE:LINE")
    common(fix, argparse.SUPPRESS)
    fix.add_argument("location", help="FILE:LINE, 1-based")
    fix.add_argument("--json", action="store_true", help="print diagnostics and fixes as JSON")
    tune = sub.add_parser(
        "tune",
        help="train a LoRA adapter on a workspace's code, or with --next-edit on its commits' "
        "edits (needs the tune extra)",
    )
    common(tune, argparse.SUPPRESS)
    add_tune_arguments(tune)
    models_parser = sub.add_parser("models", help="list, pull or locate models")
    models_parser.add_argument("--model-dir", help="model cache directory")
    models_sub = models_parser.add_subparsers(dest="models_command", required=True)
    models_sub.add_parser("list", help="registered models and whether they are downloaded")
    for verb, text in (("pull", "download and verify a model"), ("path", "print a model's path")):
        p = models_sub.add_parser(verb, help=text)
        p.add_argument("name", nargs="?", help="registry name (default: the default model)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(getattr(args, "log_level", None) or "info", getattr(args, "log_file", None))
    handlers = {
        "complete": _complete,
        "fix": _fix,
        "tune": lambda a: run_tune(a, _print_progress),
        "models": _models,
    }
    try:
        return handlers.get(args.command, _serve)(args)
    except TideError as exc:
        print(f"tide-lsp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
