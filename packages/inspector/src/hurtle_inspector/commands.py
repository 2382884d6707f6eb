"""Which methods of an inspector class are commands, and how a request calls them.

A command is a public function defined in the class body of ``Inspector`` or of a
subclass: nothing whose name starts with ``_``, nothing inherited from ``object``, no
attribute that is not a plain function (properties, class attributes, static and class
methods are not commands). The table is built once per class and is the only way a
request reaches a method: the dispatcher never calls ``getattr`` with a client's name.

Arguments come from the JSON object body. A method whose only parameter (after
``self``) is annotated with a ``msgspec.Struct`` receives the whole body decoded into
that struct. Any other method gets ``body["args"]`` as positional arguments and the
other keys as keyword arguments, bound with its signature and converted (strictly) to
its annotations by msgspec.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect

from hurtle_inspector.errors import InspectorConfigError, InspectorRequestError

__all__ = ["RESERVED", "Command", "CommandMethod", "command_table", "decode_arguments"]

RESERVED = frozenset({"health", "ready"})
"""Paths answered without authentication; no command may take these names."""

_object_decoder = msgspec.json.Decoder(dict[str, Any])
_P = inspect.Parameter


@dataclass(frozen=True)
class CommandMethod:
    """One command: its name, its function, and how its arguments are read."""

    name: str
    function: Callable[..., Any]
    signature: inspect.Signature
    hints: Mapping[str, Any]
    body_type: type[msgspec.Struct] | None

    @property
    def method(self) -> str:
        """The HTTP method that calls it: GET for ``info`` (at ``/``), POST otherwise."""
        return "GET" if self.name == "info" else "POST"

    @property
    def path(self) -> str:
        """The URL path that calls it."""
        return "/" if self.name == "info" else f"/{self.name}"


Command = CommandMethod
"""Former name of ``CommandMethod`` (kept for callers)."""

_tables: dict[type, dict[str, CommandMethod]] = {}


def command_table(cls: type) -> dict[str, CommandMethod]:
    """The commands of ``cls`` by name; raises ``InspectorConfigError`` for a bad one."""
    table = _tables.get(cls)
    if table is None:
        table = _tables[cls] = _build(cls)
    return table


def _build(cls: type) -> dict[str, CommandMethod]:
    seen: set[str] = set()
    table: dict[str, CommandMethod] = {}
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)  # the most derived definition decides, even when it is no function
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            if name in RESERVED:
                raise InspectorConfigError(
                    f"{cls.__qualname__}.{name}: {name!r} is reserved for the unauthenticated "
                    f"/{name} probe; give the command another name"
                )
            table[name] = _command(cls, name, value)
    return table


def _command(cls: type, name: str, function: Callable[..., Any]) -> CommandMethod:
    where = f"{cls.__qualname__}.{name}"
    try:
        hints = typing.get_type_hints(function)
    except Exception as exc:
        raise InspectorConfigError(
            f"The annotations of command {where} cannot be resolved ({exc}): import the "
            "types they name at module level"
        ) from None
    hints.pop("return", None)
    for parameter, hint in hints.items():
        if _custom_type(msgspec.inspect.type_info(hint)):
            raise InspectorConfigError(
                f"Command {where}: parameter {parameter!r} has a type msgspec cannot decode "
                "from JSON; use JSON types, msgspec structs or leave it unannotated"
            )
    parameters = list(inspect.signature(function).parameters.values())
    if not parameters or parameters[0].kind not in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
        raise InspectorConfigError(f"Command {where} must be a method taking self first")
    signature = inspect.Signature(parameters[1:])
    body_type = None
    rest = parameters[1:]
    if len(rest) == 1 and rest[0].kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
        hint = hints.get(rest[0].name)
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            body_type = hint
    return CommandMethod(name, function, signature, hints, body_type)


def _custom_type(info: msgspec.inspect.Type) -> bool:
    """Whether a type (or a type inside it) is a class JSON cannot be decoded into."""
    if isinstance(info, msgspec.inspect.CustomType):
        return info.cls is not object  # `object` decodes any JSON value, like Any
    inner: list[msgspec.inspect.Type] = []
    for attribute in ("item_type", "key_type", "value_type"):
        if hasattr(info, attribute):
            inner.append(getattr(info, attribute))
    for attribute in ("item_types", "types"):
        inner.extend(getattr(info, attribute, ()))
    return any(_custom_type(item) for item in inner)


def decode_arguments(
    command: CommandMethod, body: bytes, query: list[tuple[str, str]]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The positional and keyword arguments for ``command`` from a request.

    Raises ``InspectorRequestError`` (400) for a body that is not a JSON object, unknown
    or missing arguments, values of the wrong type, and query parameters the command
    does not take.
    """
    if command.body_type is not None:
        return (_decode_struct(command.body_type, body, query),), {}
    if query:
        raise InspectorRequestError(f"The {command.name} command takes no query parameters")
    data = _decode_object(body)
    args = data.pop("args", [])
    if not isinstance(args, list):
        raise InspectorRequestError('"args" must be a JSON array of positional arguments')
    try:
        bound = command.signature.bind(*args, **data)
    except TypeError as exc:
        raise InspectorRequestError(f"Invalid arguments for {command.name}: {exc}") from None
    for name, value in bound.arguments.items():
        hint = command.hints.get(name)
        if hint is None:
            continue
        kind = command.signature.parameters[name].kind
        if kind is _P.VAR_POSITIONAL:
            bound.arguments[name] = tuple(_convert(name, item, hint) for item in value)
        elif kind is _P.VAR_KEYWORD:
            bound.arguments[name] = {k: _convert(k, v, hint) for k, v in value.items()}
        else:
            bound.arguments[name] = _convert(name, value, hint)
    return bound.args, bound.kwargs


def _decode_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        return _object_decoder.decode(body)
    except msgspec.ValidationError:
        raise InspectorRequestError("The request body must be a JSON object") from None
    except msgspec.DecodeError as exc:
        raise InspectorRequestError(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InspectorRequestError("The request body is nested too deeply") from None


def _decode_struct(
    body_type: type[msgspec.Struct], body: bytes, query: list[tuple[str, str]]
) -> msgspec.Struct:
    if not body.strip():
        body = b"{}"
    try:
        value = msgspec.json.decode(body, type=body_type)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith("Expected `object`"):
            message = "The request body must be a JSON object"
        raise InspectorRequestError(message) from None
    except msgspec.DecodeError as exc:
        raise InspectorRequestError(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InspectorRequestError("The request body is nested too deeply") from None
    if not query:
        return value
    fields = {field.name: field.type for field in msgspec.structs.fields(body_type)}
    changes: dict[str, Any] = {}
    for key, raw in query:
        if key not in fields or key in changes:
            problem = "is given twice" if key in changes else "is not known"
            raise InspectorRequestError(f"Query parameter {key!r} {problem}")
        try:  # query strings are text: "true" and "5" convert, as a form would
            changes[key] = msgspec.convert(raw, fields[key], strict=False)
        except msgspec.ValidationError as exc:
            raise InspectorRequestError(f"Query parameter {key!r}: {exc}") from None
    return msgspec.structs.replace(value, **changes)


def _convert(name: str, value: Any, hint: Any) -> Any:
    try:
        return msgspec.convert(value, hint)
    except msgspec.ValidationError as exc:
        raise InspectorRequestError(f"Argument {name!r}: {exc}") from None
