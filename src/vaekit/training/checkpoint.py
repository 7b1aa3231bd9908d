"""Checkpoints as safetensors + JSON: no pickle anywhere, every file written atomically.

A run folder holds:

- ``config.json``: the :class:`~vaekit.config.RunConfig`;
- ``model.safetensors``: the latest weights (``model-best.safetensors``: best by validation loss);
- ``trainer.safetensors``: the complete resume state (weights, optimizer tensors, RNG states),
  with the trainer's JSON state embedded in its header. Its rename is the commit point of a
  checkpoint, so a kill at any moment leaves a consistent state to resume from;
- ``trainer.json``: a readable copy of that JSON state (step, epoch, best loss, optimizer settings);
- ``metrics.jsonl``: one line per epoch.

Each safetensors file carries a SHA-256 of its tensors in its header, checked on load, so a
corrupted or truncated file is reported as such instead of loading silently wrong weights.

A run has an identity, a random ``run_id`` drawn when it starts (or, for a run written before
vaekit kept one, when it is first resumed), kept in the trainer state and in both model files'
metadata, so that a checkpoint copied in from another run is refused (:func:`check_same_run`).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from vaekit.runtime.atomic import atomic_write_bytes, atomic_write_text
from vaekit.runtime.errors import CheckpointError

FORMAT = "vaekit-1"
CONFIG_FILE = "config.json"
#: a table run's schema (column names, kinds and why, categories, ranges), a copy of config.json's
SCHEMA_FILE = "schema.json"
MODEL_FILE = "model.safetensors"
BEST_MODEL_FILE = "model-best.safetensors"
TRAINER_FILE = "trainer.safetensors"
TRAINER_JSON = "trainer.json"
METRICS_FILE = "metrics.jsonl"
#: the prefix of the best weights' tensors in ``trainer.safetensors``, kept there only while
#: they are of an epoch before the checkpoint's (see :func:`save_checkpoint`)
BEST_PREFIX = "best."


def new_run_id() -> str:
    """Return a fresh random run identity (32 hex digits)."""
    return uuid.uuid4().hex


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """Return a SHA-256 hex digest over the names, dtypes, shapes and bytes of ``tensors``."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` to a safetensors file atomically, with a digest in its metadata."""
    cpu = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {**metadata, "format": FORMAT, "sha256": tensors_digest(cpu)}
    atomic_write_bytes(Path(path), sorted_header(st_save(cpu, metadata=meta)))


def sorted_header(data: bytes) -> bytes:
    """Return the safetensors file ``data`` with its header's metadata in sorted key order and the
    header otherwise as it was, so that the same tensors and metadata give the same bytes (the
    library writes metadata in a random order each process); ``data`` itself where the sorted
    header would not fit the original's length."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    if "__metadata__" not in header:
        return data
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) > size:
        return data
    return data[:8] + text.ljust(size) + data[8 + size :]


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read and verify a safetensors file; return ``(tensors, metadata)``.

    Raises ``CheckpointError`` when the file is missing, truncated, corrupted or not ours.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path} does not exist: is this a vaekit run folder?") from None
    try:
        tensors = st_load(data)
        # safetensors' layout: 8-byte little-endian header length, then a JSON header.
        header_len = int.from_bytes(data[:8], "little")
        metadata = json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"{path} is truncated or corrupted ({exc}); restore it from a backup or retrain"
        ) from None
    expected = metadata.get("sha256")
    if metadata.get("format") != FORMAT or expected is None:
        raise CheckpointError(f"{path} is not a vaekit {FORMAT} checkpoint (format {metadata.get('format')!r})")
    if tensors_digest(tensors) != expected:
        raise CheckpointError(
            f"{path} is corrupted: its tensors do not match the checksum in its header; "
            "restore it from a backup or retrain"
        )
    return tensors, metadata


def save_model(path: Path, model: torch.nn.Module, info: dict[str, Any]) -> None:
    """Write the model's weights and buffers, with ``info`` (epoch, step, ...) as metadata."""
    save_model_tensors(path, model.state_dict(), info)


def save_model_tensors(path: Path, tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    """Write a model's ``state_dict`` tensors, with ``info`` (epoch, step, ...) as metadata."""
    save_tensors(path, tensors, {k: json.dumps(v) for k, v in info.items()})


#: how many tensor names of each kind (missing, unexpected, of another shape) a message names
SHOWN_KEYS = 3
#: what a mismatch between config.json and the saved weights most likely means, unless the
#: caller knows more (:func:`vaekit.training.build.unrecorded_options`)
CHANGED_PIECE = (
    "a piece's default or code has likely changed since the run was trained (or the weights are another run's): "
    "run it with the vaekit version and piece modules that trained it, or set the changed option in config.json "
    "to the value it was trained with"
)


def tensor_shapes(tensors: dict[str, torch.Tensor], prefix: str = "") -> dict[str, tuple[int, ...]]:
    """Return ``{name: shape}`` of the ``tensors`` whose name starts with ``prefix`` (without it)."""
    return {k[len(prefix) :]: tuple(v.shape) for k, v in tensors.items() if k.startswith(prefix)}


def file_tensor_shapes(path: Path, prefix: str = "") -> dict[str, tuple[int, ...]] | None:
    """Return ``{name: shape}`` of the tensors in safetensors file ``path`` whose name starts
    with ``prefix`` (without it), read from its header alone; None when it cannot be read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k[len(prefix) :]: tuple(f.get_slice(k).get_shape()) for k in f.keys() if k.startswith(prefix)}
    except Exception:  # noqa: BLE001 - an unreadable file is reported by the load that follows
        return None


def _named(keys: list[str]) -> str:
    """Return the first :data:`SHOWN_KEYS` of ``keys``, and how many more there are."""
    more = f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else ""
    return ", ".join(keys[:SHOWN_KEYS]) + more


def weights_mismatch(built: dict[str, tuple[int, ...]], saved: dict[str, tuple[int, ...]]) -> str | None:
    """Return how the ``saved`` tensors (name: shape) differ from those of the ``built`` model:
    tensors missing from the file, tensors the model has no place for and tensors of another
    shape, a few of each named; None when they fit."""
    missing = [k for k in built if k not in saved]
    unexpected = [k for k in saved if k not in built]
    reshaped = [k for k in built if k in saved and tuple(built[k]) != tuple(saved[k])]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) of the model are not in the file ({_named(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} tensor(s) of the file are not in the model ({_named(unexpected)})")
    if reshaped:
        shapes = [f"{k} {_shape(saved[k])} saved, {_shape(built[k])} built" for k in reshaped]
        parts.append(f"{len(reshaped)} tensor(s) differ in shape ({_named(shapes)})")
    return "; ".join(parts) or None


def _shape(shape: tuple[int, ...]) -> str:
    """Return ``shape`` as ``128x8`` (``scalar`` for none), short enough to list several."""
    return "x".join(str(n) for n in shape) or "scalar"


def check_weights_fit(
    path: Path, built: dict[str, tuple[int, ...]], saved: dict[str, tuple[int, ...]], hint: str | None = None
) -> None:
    """Raise ``CheckpointError`` when the weights ``saved`` in ``path`` (name: shape) do not fit
    the model ``built`` from config.json (name: shape): one line naming the first tensors that
    differ and what most likely changed (``hint``, else :data:`CHANGED_PIECE`)."""
    mismatch = weights_mismatch(built, saved)
    if mismatch is not None:
        raise CheckpointError(
            f"{path} holds weights of another architecture than the model built from config.json ({mismatch}): "
            f"{hint or CHANGED_PIECE}"
        )


def load_model_weights(path: Path, model: torch.nn.Module, hint: str | None = None) -> dict[str, Any]:
    """Load weights into ``model`` (strict); return the file's info metadata. Weights of another
    architecture raise ``CheckpointError`` naming the tensors that differ and ``hint``, what most
    likely changed since the run was trained (see :func:`check_weights_fit`)."""
    tensors, metadata = load_tensors(path)
    check_weights_fit(path, tensor_shapes(model.state_dict()), tensor_shapes(tensors), hint)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit the model in config.json: {exc}") from None
    return {k: json.loads(v) for k, v in metadata.items() if k not in ("format", "sha256")}


# --- optimizer and RNG state <-> flat tensors + JSON --------------------------------------------


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors (``optim.<param>.<key>``) and JSON values."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in state_dict["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def optimizer_from_flat(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Rebuild an optimizer state dict from :func:`optimizer_to_flat`'s output."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_to_tensors() -> dict[str, torch.Tensor]:
    """Capture the global torch RNG states (CPU and every CUDA device)."""
    tensors = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return tensors


def rng_from_tensors(tensors: dict[str, torch.Tensor]) -> None:
    """Restore the RNG states captured by :func:`rng_to_tensors`."""
    torch.set_rng_state(tensors["rng.cpu"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


def save_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    on_commit: Callable[[], None] | None = None,
    best: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write a complete checkpoint of the training state into ``run_dir``.

    ``state`` is JSON-able trainer state (epoch, step, best loss, run id...). ``trainer.safetensors``
    is written first and alone suffices to resume (``on_commit`` is called once it is in place);
    ``model.safetensors`` and ``trainer.json`` follow, and resume rewrites them if they are
    missing or stale. ``best``: the best weights, when they are of an earlier epoch than this one
    and not yet in ``model-best.safetensors``; they travel in the checkpoint so that resume can
    write that file if a kill stops its write.
    """
    run_dir = Path(run_dir)
    optim_tensors, optim_meta = optimizer_to_flat(optimizer)
    model_tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    best_tensors = {BEST_PREFIX + k: v for k, v in (best or {}).items()}
    trainer_state = {**state, "optimizer": optim_meta}
    save_tensors(
        run_dir / TRAINER_FILE,
        {**model_tensors, **optim_tensors, **rng_to_tensors(), **best_tensors},
        {"trainer_json": json.dumps(trainer_state)},
    )
    if on_commit is not None:
        on_commit()
    save_model(run_dir / MODEL_FILE, model, model_info(state))
    atomic_write_text(run_dir / TRAINER_JSON, trainer_json_text(trainer_state))


def model_info(state: dict[str, Any]) -> dict[str, Any]:
    """Return the metadata of ``model.safetensors`` for trainer state ``state``: its epoch and
    step, and its run id when it has one."""
    info = {"epoch": state["epoch"], "step": state["step"]}
    if state.get("run_id") is not None:
        info["run_id"] = state["run_id"]
    return info


def trainer_json_text(trainer_state: dict[str, Any]) -> str:
    """Return the text of ``trainer.json`` for the trainer state (optimizer settings included)."""
    return json.dumps(trainer_state, indent=2) + "\n"


def load_checkpoint(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``trainer.safetensors``; return ``(model_state, other_tensors, trainer_state)``."""
    tensors, metadata = load_tensors(Path(run_dir) / TRAINER_FILE)
    try:
        trainer_state = json.loads(metadata["trainer_json"])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{Path(run_dir) / TRAINER_FILE} has no valid trainer state in its header") from None
    model_state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    others = {k: v for k, v in tensors.items() if not k.startswith("model.")}
    return model_state, others, trainer_state


def header_metadata(path: Path) -> dict[str, str] | None:
    """Return the metadata in the header of safetensors file ``path`` without reading its
    tensors (nor checking them); None when it is missing or cannot be read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except OSError:
        return None
    except Exception:  # safetensors raises its own error type for a truncated file
        return None


def checkpoint_state(run_dir: Path) -> dict[str, Any] | None:
    """Return the trainer state of ``run_dir``'s last complete checkpoint (optimizer settings
    included), read from the header of ``trainer.safetensors`` alone; None when there is none
    (or it cannot be read)."""
    try:
        state = json.loads((header_metadata(Path(run_dir) / TRAINER_FILE) or {})["trainer_json"])
    except (KeyError, ValueError, TypeError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("epoch"), int) else None


def checkpoint_epoch(run_dir: Path) -> int | None:
    """Return the epoch of ``run_dir``'s last complete checkpoint, read from the header of
    ``trainer.safetensors`` alone; None when there is none (or it cannot be read)."""
    state = checkpoint_state(run_dir)
    return None if state is None else state["epoch"]


def checkpointed_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Return the per-epoch records of ``run_dir``'s ``metrics.jsonl`` up to its last complete
    checkpoint (every record when it has none): a kill after an epoch's record but before its
    checkpoint leaves a record of weights the run does not have, which the next resume drops."""
    epoch = checkpoint_epoch(run_dir)
    return read_metrics(Path(run_dir) / METRICS_FILE, math.inf if epoch is None else epoch)


def read_trainer_json(run_dir: Path) -> dict[str, Any] | None:
    """Return the trainer state in ``run_dir``'s ``trainer.json``; None when it is missing or
    unreadable (a kill before its first write, a damaged file)."""
    try:
        state = json.loads((Path(run_dir) / TRAINER_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def model_file_info(path: Path) -> dict[str, Any] | None:
    """Return the info metadata (epoch, step, run id...) of model file ``path`` read from its
    header; None when it is missing or unreadable."""
    metadata = header_metadata(path)
    if metadata is None:
        return None
    try:
        return {k: json.loads(v) for k, v in metadata.items() if k not in ("format", "sha256")}
    except ValueError:
        return None


def check_same_run(run_dir: Path, run_id: str | None) -> None:
    """Refuse a checkpoint of run ``run_id`` in a folder whose other files belong to another run.

    The run ids of ``trainer.json``, ``model.safetensors`` and ``model-best.safetensors`` are
    compared with it; a file without one (written before vaekit kept one, or missing) says
    nothing, and a checkpoint without one (``run_id`` None) is accepted as before. Raises
    ``CheckpointError`` naming the files and the fix.
    """
    if run_id is None:
        return
    run_dir = Path(run_dir)
    others = {TRAINER_JSON: read_trainer_json(run_dir)}
    others.update({name: model_file_info(run_dir / name) for name in (MODEL_FILE, BEST_MODEL_FILE)})
    foreign = {name: info["run_id"] for name, info in others.items() if info and info.get("run_id") not in (None, run_id)}
    if foreign:
        theirs = ", ".join(f"{name} ({rid})" for name, rid in foreign.items())
        raise CheckpointError(
            f"{run_dir / TRAINER_FILE} belongs to another run (run id {run_id}) than the rest of {run_dir}: {theirs}; "
            "it was copied in from another run folder. Put this run's own trainer.safetensors back, or copy the "
            f"other run's whole folder instead of one file; or start the folder over with `vaekit train ... --out {run_dir} --force`"
        )


def read_metrics(path: Path, up_to_epoch: float = math.inf) -> list[dict[str, Any]]:
    """Return the per-epoch records of a ``metrics.jsonl`` file in order, those of epochs up to
    ``up_to_epoch`` (a record without an epoch counts as past it); none when the file is
    missing. A line cut short by a kill is skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("epoch", math.inf) <= up_to_epoch:
            records.append(record)
    return records
