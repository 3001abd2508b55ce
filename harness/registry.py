"""Name → class registries for tasks, model adapters and steering methods.

Three sources: built-ins (imported lazily from `BUILTIN_*`), installed plugins
(entry-point groups `harness.tasks` and `harness.models`, each entry pointing at
a module or a class), and user files passed with `--include PATH`.
Options given as `key=value` strings are converted to the fields of the
class's `Args` dataclass and validated here, once, for every kind.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import importlib.util
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from harness.api import HarnessError, ModelAdapter, Task

TASKS: dict[str, type[Task]] = {}
MODELS: dict[str, type[ModelAdapter]] = {}
STEERING: dict[str, Any] = {}

# Modules whose import registers the built-ins. Kept as strings so that
# `harness tasks` does not import torch-heavy code it does not need.
BUILTIN_MODULES = [
    "harness.tasks.smoke",
    "harness.tasks.physics",
    "harness.tasks.hardmath",
    "harness.tasks.assign_add",
    "harness.tasks.persona",
    "harness.tasks.halu",
    "harness.adapters.hf",
    "harness.adapters.openai_api",
    "harness.adapters.replay",
    "harness.adapters.assign_add",
    "harness.adapters.reference_learners",
    "harness.adapters.steering",
]

_loaded = False


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    TASKS[cls.name] = cls
    return cls


def register_model(cls: type[ModelAdapter]) -> type[ModelAdapter]:
    """Class decorator: make an adapter available as `--model NAME:target`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    MODELS[cls.name] = cls
    return cls


def register_steering(name: str):
    """Decorator for steering methods (see harness.adapters.steering)."""

    def deco(obj):
        STEERING[name] = obj
        return obj

    return deco


def load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in BUILTIN_MODULES:
        importlib.import_module(mod)
    for group in ("harness.tasks", "harness.models"):
        for ep in importlib.metadata.entry_points(group=group):
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Task):
                register_task(obj)
            elif isinstance(obj, type) and issubclass(obj, ModelAdapter):
                register_model(obj)
            # A module entry point registers its contents on import.


def include(path: str | Path) -> None:
    """Import a user's .py file, or every .py file in a folder, so its
    `@register_task` / `@register_model` decorators run."""
    p = Path(path)
    if not p.exists():
        raise HarnessError(f"--include {path}: no such file or folder; pass a .py file or a folder of them")
    files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
    if p.is_file() and p.suffix != ".py":
        raise HarnessError(f"--include {path}: not a Python file; pass a .py file or a folder of them")
    for f in files:
        name = "harness_user_" + "_".join(f.resolve().with_suffix("").parts[-3:]).replace("-", "_").replace(".", "_")
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, f)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[name]
            raise HarnessError(f"--include {f}: importing it failed ({type(e).__name__}: {e}); fix the file") from e


def get_task_class(name: str) -> type[Task]:
    load_builtins()
    if name not in TASKS:
        raise HarnessError(
            f"unknown task '{name}'; known tasks: {', '.join(sorted(TASKS))} (see `harness tasks`, or --include your file)"
        )
    return TASKS[name]


def parse_model_spec(spec: str) -> tuple[type[ModelAdapter], str]:
    """`hf:path` → (HFAdapter, "path"). A spec without a colon names the adapter alone."""
    load_builtins()
    kind, _, target = spec.partition(":")
    if kind not in MODELS:
        raise HarnessError(
            f"unknown model spec '{spec}'; use NAME:TARGET with NAME one of {', '.join(sorted(MODELS))} (see `harness models`)"
        )
    return MODELS[kind], target


def parse_kv(pairs: list[str] | tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep or not key:
            raise HarnessError(f"{what} '{p}' is not key=value; write it as {what} key=value")
        out[key.strip()] = value
    return out


def _convert(raw: str, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if origin is Literal:
        allowed = get_args(tp)
        for a in allowed:
            if str(a) == raw or (isinstance(a, bool) and raw.lower() == str(a).lower()):
                return a
        raise HarnessError(f"{where}: '{raw}' is not allowed; use one of {', '.join(map(str, allowed))}")
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if raw.lower() in ("none", "null", "") and type(None) in get_args(tp):
            return None
        errors = []
        for a in options:
            try:
                return _convert(raw, a, where)
            except HarnessError as e:
                errors.append(str(e))
        raise HarnessError(errors[0] if len(errors) == 1 else f"{where}: cannot read '{raw}'")
    if tp is bool:
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        raise HarnessError(f"{where}: '{raw}' is not true or false")
    if tp in (int, float):
        try:
            return tp(raw)
        except ValueError:
            raise HarnessError(f"{where}: '{raw}' is not a{'n integer' if tp is int else ' number'}") from None
    return raw


def build_args(args_cls: type, raw: dict[str, str], what: str, owner: str) -> Any:
    """Convert `key=value` strings into `args_cls`, naming allowed keys on error."""
    fields = {f.name: f for f in dataclasses.fields(args_cls)}
    hints = typing.get_type_hints(args_cls)
    values = {}
    for key, value in raw.items():
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "(none)"
            raise HarnessError(f"unknown {what} '{key}' for {owner}; allowed: {allowed}")
        values[key] = _convert(value, hints[key], f"{what} {key} of {owner}")
    try:
        obj = args_cls(**values)
    except (TypeError, ValueError) as e:
        raise HarnessError(f"{what}s for {owner}: {e}") from None
    return obj


def arg_keys(args_cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(args_cls)}


def create_task(name: str, raw_args: dict[str, str]) -> Task:
    cls = get_task_class(name)
    return cls(build_args(cls.Args, raw_args, "task arg", f"task '{name}'"))


def create_model(spec: str, raw_args: dict[str, str]) -> ModelAdapter:
    cls, target = parse_model_spec(spec)
    return cls(target, build_args(cls.Args, raw_args, "model arg", f"model '{cls.name}'"))
