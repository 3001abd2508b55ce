"""Name → class registries for tasks, model adapters and steering methods.

Built-ins and installed plugins register the same way: entry points in the
groups `harness.tasks`, `harness.models`, `harness.steering`,
`harness.wrappers` (a model wrapping another, `steer` for `--steer`) and
`harness.backends` (where chunks of samples are solved, `ray` for `--backend ray`), each naming a
class (or a module whose import registers its classes). An entry point is
imported only when its name is first used, so listing what exists (`harness
tasks`, `harness models`) reads the classes' descriptions from their source
and imports neither torch nor a task's data. User files passed with
`--include PATH` register with the decorators below. Options given as
`key=value` strings are converted to the fields of the class's `Args`
dataclass and validated here, once, for every kind.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from harness.api import HarnessError, ModelAdapter, Task

TASKS: dict[str, type[Task]] = {}
MODELS: dict[str, type[ModelAdapter]] = {}
STEERING: dict[str, Any] = {}

WRAPPERS: dict[str, Any] = {}  # name -> callable(adapter, method, raw_args) -> adapter, e.g. `steer` for --steer
BACKENDS: dict[str, Any] = {}  # name -> class(config, cache) solving chunks elsewhere, e.g. `ray` for --backend ray

GROUPS = {
    "task": "harness.tasks",
    "model": "harness.models",
    "steering": "harness.steering",
    "wrapper": "harness.wrappers",
    "backend": "harness.backends",
}
_TABLES: dict[str, dict[str, Any]] = {"task": TASKS, "model": MODELS, "steering": STEERING, "wrapper": WRAPPERS, "backend": BACKENDS}


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


# Optional dependencies and the extra that installs them.
EXTRAS = {
    "torch": "hf",
    "transformers": "hf",
    "safetensors": "hf",
    "lm_eval": "lm-eval",
    "inspect_ai": "inspect",
    "math_verify": "bench",
    "ray": "ray",
}
CPU_TORCH = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


def missing_extra(error: ModuleNotFoundError, what: str) -> HarnessError | None:
    """A one-line error naming the extra that provides the missing module, or None if no extra does."""
    top = (error.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    extra = EXTRAS[top]
    hint = f" (for the CPU build of torch first run `{CPU_TORCH}`)" if extra == "hf" else ""
    return HarnessError(f"{what} needs {top}, which is not installed; install the [{extra}] extra: pip install 'harness[{extra}]'{hint}")


def _entry_points(kind: str) -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=GROUPS[kind])}


def _load(kind: str, ep: importlib.metadata.EntryPoint) -> None:
    try:
        obj = ep.load()  # a module entry point registers its contents on import
    except ModuleNotFoundError as e:
        error = missing_extra(e, f"{kind} '{ep.name}'")
        if error is None:
            raise
        raise error from None
    if kind == "steering" and isinstance(obj, type):
        STEERING.setdefault(ep.name, obj)
    elif kind == "wrapper" and callable(obj):
        WRAPPERS.setdefault(ep.name, obj)
    elif kind == "backend" and isinstance(obj, type):
        BACKENDS.setdefault(ep.name, obj)
    elif isinstance(obj, type) and issubclass(obj, Task):
        register_task(obj)
    elif isinstance(obj, type) and issubclass(obj, ModelAdapter):
        register_model(obj)


def lookup(kind: str, name: str) -> Any | None:
    """The registered class called `name`, importing its entry point on first use."""
    table = _TABLES[kind]
    if name not in table:
        points = _entry_points(kind)
        if name in points:
            _load(kind, points[name])
        else:  # module entry points may register names of their own
            for ep in points.values():
                if not ep.attr:
                    _load(kind, ep)
    return table.get(name)


def known(kind: str) -> list[str]:
    """Names registered or installed (a module entry point's names are known once it is imported)."""
    return sorted(set(_TABLES[kind]) | {name for name, ep in _entry_points(kind).items() if ep.attr})


def _source_file(module: str) -> Path | None:
    """Where `module`'s source is, found without importing it or its packages."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    folders = [Path(p) for p in (spec.submodule_search_locations or [])]
    path = Path(spec.origin) if spec.origin and not rest else None
    for k, part in enumerate(rest):
        last = k == len(rest) - 1
        found = None
        for folder in folders:
            if (folder / part / "__init__.py").exists():
                found = folder / part
                break
            if last and (folder / f"{part}.py").exists():
                found = folder / f"{part}.py"
                break
        if found is None:
            return None
        folders, path = ([found] if found.is_dir() else []), (found / "__init__.py" if found.is_dir() else found)
    return path


def _description_in_source(ep: importlib.metadata.EntryPoint) -> str | None:
    """The class's `description = "..."`, or its docstring's first line, read from its source."""
    path = _source_file(ep.module) if ep.attr else None
    if path is None:
        return None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ClassDef) and node.name == ep.attr:
            for item in node.body:
                if (
                    isinstance(item, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "description" for t in item.targets)
                    and isinstance(item.value, ast.Constant)
                    and isinstance(item.value.value, str)
                ):
                    return item.value.value
            doc = ast.get_docstring(node)
            return doc.strip().splitlines()[0] if doc else ""
    return None


def describe(kind: str) -> list[tuple[str, str]]:
    """(name, one-line description) of everything registered or installed, without importing entry points."""
    points = _entry_points(kind)
    for ep in points.values():
        if not ep.attr:  # only importing a module entry point tells what it registers
            _load(kind, ep)
    rows = []
    for name in known(kind):
        obj = _TABLES[kind].get(name)
        if obj is None:
            text = _description_in_source(points[name]) if name in points else None
            if text is None:
                obj = lookup(kind, name)
        if obj is not None:
            doc = (obj.__doc__ or "").strip()
            text = getattr(obj, "description", "") or (doc.splitlines()[0] if doc else "")
        rows.append((name, text or ""))
    return rows


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
        if spec is None or spec.loader is None:
            raise HarnessError(f"--include {f}: cannot be imported as a Python module; pass a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            del sys.modules[name]
            raise HarnessError(f"--include {f}: importing it failed ({type(e).__name__}: {e}); fix the file") from e


def get_task_class(name: str) -> type[Task]:
    """The task called `name`; `FAMILY:NAME` asks a family that runs other tools'
    tasks (`lm-eval:NAME`) for its task of that name."""
    cls = lookup("task", name)
    if cls is None and ":" in name:
        family, _, member = name.partition(":")
        base = lookup("task", family)
        if base is not None and hasattr(base, "named") and member:
            cls = register_task(base.named(member))
    if cls is None:
        raise HarnessError(f"unknown task '{name}'; known tasks: {', '.join(known('task'))} (see `harness tasks`, or --include your file)")
    return cls


def parse_model_spec(spec: str) -> tuple[type[ModelAdapter], str]:
    """`hf:path` → (HFAdapter, "path"). A spec without a colon names the adapter alone."""
    kind, _, target = spec.partition(":")
    cls = lookup("model", kind)
    if cls is None:
        raise HarnessError(
            f"unknown model spec '{spec}'; use NAME:TARGET with NAME one of {', '.join(known('model'))} (see `harness models`)"
        )
    return cls, target


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


@dataclasses.dataclass(frozen=True)
class ArgInfo:
    """One option of a task, adapter or steering method, for `harness tasks NAME`."""

    name: str
    type: str
    default: Any
    allowed: tuple[Any, ...]  # the values a Literal allows; () for free values
    help: str  # the comment after the field in its source, if any


def _field_comments(args_cls: type) -> dict[str, str]:
    """`name: type = default  # comment` -> {name: comment}, read from the class's source."""
    try:
        lines, _ = inspect.getsourcelines(args_cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in lines:
        m = re.match(r"\s*(\w+)\s*:[^#]*#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def describe_args(args_cls: type) -> list[ArgInfo]:
    hints = typing.get_type_hints(args_cls)
    comments = _field_comments(args_cls)
    out = []
    for f in dataclasses.fields(args_cls):
        tp = hints[f.name]
        allowed = get_args(tp) if get_origin(tp) is Literal else ()
        shown = "choice" if allowed else getattr(tp, "__name__", None) or str(tp).replace("typing.", "")
        default = f.default if f.default is not dataclasses.MISSING else None
        out.append(ArgInfo(f.name, shown, default, allowed, comments.get(f.name, "")))
    return out


def arg_keys(args_cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(args_cls)}


def create_task(name: str, raw_args: dict[str, str]) -> Task:
    cls = get_task_class(name)
    return cls(build_args(cls.Args, raw_args, "task arg", f"task '{name}'"))


def create_model(spec: str, raw_args: dict[str, str]) -> ModelAdapter:
    cls, target = parse_model_spec(spec)
    return cls(target, build_args(cls.Args, raw_args, "model arg", f"model '{cls.name}'"))
