"""The command line's machinery: options generated from the run config, ``--set PATH=VALUE``,
flags of earlier versions, help read from the registries, and user errors as one line.

Imports only click and the standard library at the top, so ``vaekit --help`` answers quickly.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vaekit.cli.launch import tell_launcher
from vaekit.runtime.errors import ConfigError, DistributedError, VaekitError
from vaekit.runtime.worker_process import first_to_say


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user-caused errors into a one-line message and exit code 2, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except VaekitError as exc:
            # A worker of `--nproc` leaves its line to the launcher, which prints one for the job.
            line = f"error: {exc}"
            if not tell_launcher(line, 2, fault=isinstance(exc, DistributedError)) and first_to_say(line):
                click.echo(line, err=True)
            sys.exit(2)
        except KeyboardInterrupt as exc:
            # The run folder's own account, when a training was under way; other commands
            # write nothing that an interrupt could leave half done.
            notes = getattr(exc, "__notes__", None)
            line = f"interrupted; {'; '.join(notes)}" if notes else "interrupted"
            if not tell_launcher(line, 130) and first_to_say(line):
                click.echo(line, err=True)
            sys.exit(130)

    return wrapper


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """Return ``"1 row"`` or ``"3 rows"``: ``n`` and ``noun``, plural (``noun + "s"`` unless
    given) for any ``n`` but 1."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def int_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        widths = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 512,256, got {value!r}") from None
    if not widths or any(w < 1 for w in widths):
        raise click.BadParameter(f"expected positive widths like 512,256, got {value!r}")
    return widths


def progress_mode(quiet: bool) -> str:
    return "quiet" if quiet else "auto"


def show_warnings_as_lines() -> None:
    """Print vaekit's own warnings (``VaekitWarning``) as one ``warning: ...`` line each, rather
    than in Python's ``file:line: category`` form; other warnings are shown as before."""
    import warnings

    from vaekit.runtime.errors import VaekitWarning

    previous = warnings.showwarning
    if getattr(previous, "vaekit_lines", False):
        return

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
        if issubclass(category, VaekitWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            previous(message, category, filename, lineno, file, line)

    show.vaekit_lines = True  # type: ignore[attr-defined]
    warnings.showwarning = show


#: flags of earlier versions and their spelling now: ``(new flag, value)``; a value of None
#: takes the old flag's own value
LEGACY_FLAGS: dict[str, tuple[str, str | None]] = {
    "--beta": ("--set", "objective.beta={}"),
    "--warmup": ("--set", "objective.warmup={}"),
    "--warmup-steps": ("--set", "objective.warmup_steps={}"),
    "--free-bits": ("--set", "objective.free_bits={}"),
    "--iwae-k": ("--set", "objective.k={}"),
    "--sigma": ("--set", "likelihood.sigma={}"),
    "--sigma-type": ("--set", "likelihood.sigma_type={}"),
    "--mixtures": ("--set", "likelihood.mixtures={}"),
    "--categorical-groups": ("--set", "likelihood.groups=[{}]"),
    "--pseudo-inputs": ("--set", "prior.pseudo_inputs={}"),
    "--channels": ("--set", "net.channels=[{}]"),
    "--activation": ("--set", "net.activation={}"),
    "--norm": ("--set", "net.normalization={}"),
}
#: speed switches of earlier versions: turning one off now means ``--fast off``
LEGACY_SWITCHES = {
    "--no-fused-step": ["--fast", "off"],
    "--no-flush-denormal": ["--fast", "off"],
    "--no-fused-optimizer": ["--fast", "off"],
    "--no-fused-nll": ["--fast", "off"],
    "--fused-step": [],
    "--flush-denormal": [],
    "--fused-optimizer": [],
    "--fused-nll": [],
}


def translate_legacy_flags(args: list[str], piece_flags: bool = True) -> tuple[list[str], list[str]]:
    """Return ``args`` with flags of earlier versions rewritten to today's spelling, and one
    deprecation message per rewritten flag; the pieces' option flags (``--beta``, ...) only with
    ``piece_flags`` (the train command: others have no ``--set``)."""
    out: list[str] = []
    notes: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        if arg in LEGACY_SWITCHES:
            new = LEGACY_SWITCHES[arg]
            out += new
            notes.append(f"{arg} is deprecated; " + (f"use {' '.join(new)}" if new else "it is the default (--fast auto)"))
        elif piece_flags and flag in LEGACY_FLAGS and (eq or i + 1 < len(args)):
            value = inline if eq else args[i + 1]
            i += 0 if eq else 1
            new_flag, template = LEGACY_FLAGS[flag]
            new_value = template.format(value) if template else value
            out += [new_flag, new_value]
            notes.append(f"{flag} is deprecated; use {new_flag} {new_value}")
        else:
            out.append(arg)
        i += 1
    return out, notes


class Command(click.Command):
    """A command that accepts earlier versions' flags (with a deprecation message) and builds
    the parts of its help that come from the registries only when help is shown."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        args, notes = translate_legacy_flags(list(args), piece_flags=self.name == "train")
        for note in notes:
            click.echo(f"warning: {note}", err=True)
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.name == "train":
            with formatter.section("Model pieces and their options (--set PIECE.OPTION=VALUE)"):
                formatter.write_dl(piece_help())
        elif self.name == "plot":
            from vaekit.viz.plots import PICTURES

            with formatter.section("Pictures (KIND, and its default file in RUN_DIR)"):
                formatter.write_dl([(k, f"{PICTURES[k].description} ({PICTURES[k].default_file})") for k in PICTURES.names()])
        super().format_epilog(ctx, formatter)


def piece_help() -> list[tuple[str, str]]:
    """Return (piece kind, its registered names with their options), read from the registries."""
    from vaekit.distributions import LIKELIHOODS, PRIORS
    from vaekit.models import MODELS
    from vaekit.nets import NETS
    from vaekit.objectives import OBJECTIVES

    return [(f"--{kind}", "; ".join(reg.describe())) for kind, reg in (
        ("model", MODELS), ("net", NETS), ("likelihood", LIKELIHOODS), ("prior", PRIORS), ("objective", OBJECTIVES)
    )]  # fmt: skip


def config_flags(section: str, renames: dict[str, str]) -> list[Callable[[Any], Any]]:
    """Return click options for the fields of a config section (``data`` or ``train``), with
    the help, type and choices their fields declare; ``renames`` maps a field to its flag."""
    import dataclasses
    import typing

    from vaekit import config as config_module

    cls = {"data": config_module.DataConfig, "train": config_module.TrainConfig}[section]
    hints = typing.get_type_hints(cls)
    decorators = []
    for f in dataclasses.fields(cls):
        flag = renames.get(f.name, "--" + f.name.replace("_", "-"))
        kind = hints[f.name]
        # A field that also takes text (image_size: "28x28" or 28) is a text flag.
        base = next((t for t in (bool, str, int, float) if kind is t or t in typing.get_args(kind)), str)
        choices = f.metadata.get("choices")
        help_text = f.metadata.get("help", "") + default_note(f.default, flag, base)
        parse = f.metadata.get("parse")
        if parse:
            callback = {"list": text_list, "mapping": text_mapping}[parse]
            decorators.append(click.option(flag, f"{section}__{f.name}", callback=callback, help=help_text))
        elif base is bool:
            decorators.append(
                click.option(f"{flag}/--no-{flag[2:]}", f"{section}__{f.name}", default=None, help=help_text)
            )
        else:
            ptype = Choice(choices) if choices else base
            decorators.append(click.option(flag, f"{section}__{f.name}", type=ptype, default=None, help=help_text))
    return decorators


def text_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """Parse ``a,b,c`` into ``["a", "b", "c"]`` (names may hold spaces; empty items are refused)."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise click.BadParameter(f"expected comma-separated names like a,b, got {value!r}")
    return items


def text_mapping(ctx: click.Context, param: click.Parameter, value: str | None) -> dict[str, str] | None:
    """Parse ``a=x,b=y`` into ``{"a": "x", "b": "y"}``."""
    if value is None:
        return None
    mapping = {}
    for item in value.split(","):
        name, sep, setting = item.partition("=")
        if not sep or not name.strip() or not setting.strip():
            raise click.BadParameter(f"expected NAME=VALUE pairs like plan=categorical,visits=count, got {item!r}")
        mapping[name.strip()] = setting.strip()
    return mapping


def default_note(default: Any, flag: str, base: type) -> str:
    """Return `` [default: VALUE]`` for a flag's help: the config's default, shown in the help
    text because the flag itself defaults to None (a value from --config is not overridden)."""
    import dataclasses

    if default is None or default is dataclasses.MISSING:
        return ""
    shown = (flag[2:] if default else f"no-{flag[2:]}") if base is bool else default
    return f"  [default: {shown}]"


def apply_all(decorators: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def wrap(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return wrap


def parse_setting(text: str) -> tuple[str, Any]:
    """Return ``(path, value)`` of a ``--set`` argument ``PATH=VALUE``; the value is read as
    YAML (numbers, booleans, null, [lists]), and ``512,256`` as a list of numbers."""
    import re

    import yaml

    path, eq, raw = text.partition("=")
    if not eq or not path.strip():
        raise click.BadParameter(f"expected PIECE.OPTION=VALUE, e.g. objective.beta=4, got {text!r}")
    number = r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
    if re.fullmatch(rf"\s*{number}(\s*,\s*{number})+\s*", raw):
        raw = f"[{raw}]"
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, bool) and raw.strip().lower() not in ("true", "false"):
        # YAML 1.1 reads off/on/yes/no as booleans; here they are words (--set train.fast=off).
        value = raw.strip()
    else:
        # YAML 1.1 reads 3e-4 (no decimal point) as text; a number is what anyone typing it means.
        def as_number(v: Any) -> Any:
            return float(v) if isinstance(v, str) and re.fullmatch(number, v.strip()) else v

        value = [as_number(v) for v in value] if isinstance(value, list) else as_number(value)
    return path.strip(), value


def train_options(options: dict[str, Any]) -> dict[str, Any]:
    """Return the train command's options as :func:`vaekit.api.build_config` keywords."""
    renamed = {"model__name": "model", "data__name": "data"}
    out = {}
    for key, value in options.items():
        if value is None:
            continue
        out[renamed.get(key, key.partition("__")[2] or key)] = value
    return out


class Choice(click.Choice):
    """``click.Choice`` whose refusal also names the choice most likely meant (``sample`` for
    ``samples``, ``recon`` for ``reconstructions``)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            from vaekit.runtime.names import did_you_mean

            meant = did_you_mean(value, [str(choice) for choice in self.choices]) if isinstance(value, str) else ""
            if not meant:
                raise
            self.fail(f"{exc.message.rstrip('.')}{meant}.", param, ctx)


class PictureKinds(Choice):
    """The picture kinds, read from the plot registry when first needed."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> list[str]:  # type: ignore[override]
        from vaekit.viz.plots import PICTURES

        return PICTURES.names()

    @choices.setter
    def choices(self, value: Any) -> None:
        pass


#: which split of the run's data a command reads
split_option = click.option(
    "--split", type=Choice(["train", "val", "test"]), default="test", show_default=True, help="Split of the data."
)


#: ``--split`` of a command whose output has one row per input example: a file given with
#: ``--data`` is read whole, in its order, unless a split is asked for
per_example_split_option = click.option(
    "--split",
    type=Choice(["train", "val", "test"]),
    default=None,
    help="Split of the data [default: test; every example, in order, of a file or folder given with --data].",
)


def data_options(help_text: str, per_example: bool = False) -> Callable[[Any], Any]:
    """Return the ``--data`` (other data, or the run's own) and ``--split`` options of a command
    that reads examples (``per_example``: its output lines up with a data file's rows)."""
    return apply_all([click.option("--data", help=help_text), per_example_split_option if per_example else split_option])


#: the files of a run folder that loading or resuming the run needs (DESIGN.md, "Run folder"):
#: an output written over one would break the run
RUN_FILES = (
    "config.json", "schema.json", "calibration.json", "model*.safetensors", "trainer.safetensors", "trainer.json",
    "metrics.jsonl",
)  # fmt: skip


#: the input flags that take a bundled dataset's name as well as a path
DATASET_FLAGS = frozenset({"--data"})


def names_a_dataset(spec: str | Path) -> bool:
    """Return whether ``spec`` is read as a bundled dataset (``digits``, ``mnist``, ...) rather
    than as a file or folder of that name, as ``vaekit.data.load_data`` decides it."""
    from vaekit.data.registry import resolve_name

    return resolve_name(os.fspath(spec)) is not None


def refuse_writing_over_inputs(
    out: str | Path | None, inputs: dict[str, str | Path | None] | None = None, run_dir: str | Path | None = None
) -> None:
    """Raise ``ConfigError`` when ``--out`` would write over something the command or its run
    reads: one of ``inputs`` (a flag such as ``--data`` and the file or folder it names), a file of
    the run folder ``run_dir`` that the run needs, or the run's own training data. Returns None
    when ``--out`` is none of those (or is ``-``, standard output)."""
    if out is None or str(out) == "-":
        return
    for flag, given in (inputs or {}).items():
        # ``--data digits`` reads the bundled dataset even beside a folder ``./digits``.
        if given is not None and not (flag in DATASET_FLAGS and names_a_dataset(given)):
            _refuse_over_data(out, Path(given), f"the {flag}", "your data")
    if run_dir is None:
        return
    _refuse_over_run_file(out, Path(run_dir))
    for data in _training_data(Path(run_dir)):
        _refuse_over_data(out, data, "this run's training data", "the data the run was trained on")


def _refuse_over_data(out: str | Path, data: Path, whose: str, what: str) -> None:
    """Raise ``ConfigError`` when ``out`` is the existing file ``data`` or lies inside the existing
    folder ``data``; ``whose`` and ``what`` name it in the message. Returns None otherwise."""
    if data.is_file() and _same_file(Path(out), data):
        raise ConfigError(f"--out {out} is {whose} file itself: writing there would replace {what}; name another file")
    if data.is_dir() and _inside(Path(out), data):
        raise ConfigError(
            f"--out {out} is inside {whose} folder {data}: writing there would change {what}; "
            "name a file outside that folder"
        )


def _refuse_over_run_file(out: str | Path, run_dir: Path) -> None:
    """Raise ``ConfigError`` when ``out`` is a file of ``run_dir`` that the run needs (``RUN_FILES``);
    return None otherwise."""
    import fnmatch

    target = Path(os.path.realpath(out))
    if not run_dir.is_dir() or not _same_file(target.parent, run_dir):
        return
    if any(fnmatch.fnmatchcase(target.name, pattern) for pattern in RUN_FILES):
        raise ConfigError(
            f"--out {out} is this run's own {target.name}: writing there would break the run; "
            "name a file outside the run folder, or another name in it"
        )


def _training_data(run_dir: Path) -> list[Path]:
    """Return the paths of the run's training data file or image folder that exist from here:
    ``data.name`` and the data record's ``read_from`` (a relative one is read from the current
    folder, as the run itself reads it). A bundled dataset's name (``digits``) gives no path,
    even where a file or folder of that name is here: the run read the dataset, not that.
    Returns [] when the run's config cannot be read: loading the run reports that."""
    import json

    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(config, dict):
        return []
    data, record = config.get("data"), config.get("data_file")
    names = [data.get("name") if isinstance(data, dict) else None]
    # A bundled dataset's record may hold the absolute path of a same-named folder it never read.
    if isinstance(record, dict) and not (isinstance(record.get("path"), str) and names_a_dataset(record["path"])):
        names.append(record.get("read_from"))
    return [
        Path(name).expanduser()
        for name in names
        if isinstance(name, str) and name and not names_a_dataset(name) and Path(name).expanduser().exists()
    ]


def _same_file(a: Path, b: Path) -> bool:
    """Return whether ``a`` and ``b`` are one file or folder: the same inode when both exist (a
    hard link, a symlink), else the same path once symlinks and ``..`` are resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: Path, folder: Path) -> bool:
    """Return whether ``path`` (symlinks resolved) is ``folder`` or lies anywhere below it."""
    target, top = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return target == top or top in target.parents
