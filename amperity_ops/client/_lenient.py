"""Parse per item, never per page: one odd record must not blind a whole tenant.

The fast path validates a whole answer in pydantic's Rust core. Only when that fails does the
slow path here run: the body is read as JSON, the envelope (``data`` list, ``next_token``,
``total``) is checked on its own (a broken envelope is an error for that request), and each
item is validated alone. An item that does not fit is kept with what is known:

* a field that is null, missing, of the wrong type or unparseable becomes ``None`` (or its
  default; a required text field keeps its value as text when it is a plain scalar, else ``""``;
  a state becomes an unrecognised :class:`~amperity_ops.client.models.WorkflowState`, which is
  never active, stoppable nor terminal);
* a list of nested models (``task_instances``, ``tables``, ``files``) is parsed item by item the
  same way;
* the field names are recorded in the item's ``problems`` (``("created_at",)``,
  ``("task_instances.2.state",)``), and ``is_partial`` is True.

An item whose identity (``id``, ``event_id``, ``feed_id``, ``file_id``) does not fit, or that is
not a JSON object at all, cannot be acted on or told apart from others: it is dropped, and
counted (``Page.dropped_records``), as every odd item is (``Page.odd_records``).
"""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any, Optional, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError, create_model

from amperity_ops.client.models import Page, WorkflowState, set_problems

__all__ = ["IDENTITY_FIELDS", "EnvelopeError", "describe_odd", "parse_item", "parse_page"]

logger = logging.getLogger("amperity_ops.client")

M = TypeVar("M", bound=BaseModel)

IDENTITY_FIELDS = frozenset({"id", "event_id", "feed_id", "file_id"})
"""Fields without which a record cannot be acted on: such a record is dropped, not kept."""

_UNSET = object()


class EnvelopeError(ValueError):
    """The answer is not a page at all (no ``data`` list, or a bad ``next_token``/``total``)."""


def parse_page(model: type[M], content: bytes) -> Page[M]:
    """Parse a page answer item by item (the slow path after the whole-page parse failed).

    Args:
        model: The item model (e.g. ``WorkflowRun``).
        content: The raw JSON body.

    Returns:
        The page; odd items are kept and flagged, unusable ones dropped, both counted.

    Raises:
        EnvelopeError: If the body is not a JSON object with a ``data`` list, or its
            ``next_token``/``total`` are of the wrong type.
        ValueError: If the body is not JSON (the caller treats it as a cut answer).
    """
    body = json.loads(content)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise EnvelopeError("the answer has no 'data' list")
    page_model = Page[model]  # type: ignore[valid-type]
    try:
        page = page_model.model_validate({**body, "data": []})
    except ValidationError as err:
        fields = sorted({str(e["loc"][0]) for e in err.errors() if e.get("loc")})
        raise EnvelopeError(f"the page envelope does not fit: {', '.join(fields)}") from None
    items: list[M] = []
    odd = dropped = 0
    for raw in body["data"]:
        item = parse_item(model, raw)
        if item is None:
            odd += 1
            dropped += 1
            continue
        if item.problems:  # type: ignore[attr-defined]
            odd += 1
        items.append(item)
    page.data = items
    set_problems(page, (), odd_records=odd, dropped_records=dropped)
    return page


def parse_item(model: type[M], raw: Any) -> M | None:
    """Parse one record, keeping what fits and flagging what does not.

    Args:
        model: The model to parse into.
        raw: The record as decoded from JSON.

    Returns:
        The record (``problems`` names the fields that did not fit), or None when it is not
        an object or its identity field does not fit.
    """
    if not isinstance(raw, dict):
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        bad = {e["loc"][0] for e in err.errors() if e.get("loc")}
    values = {key: value for key, value in raw.items() if key not in bad}
    problems: list[str] = []
    for name in sorted(str(b) for b in bad):
        field = model.model_fields.get(name)
        if field is None:
            continue  # unknown fields are kept as extras and never fail
        if name in IDENTITY_FIELDS:
            return None
        value = raw.get(name, _UNSET)
        nested = _nested_model(field.annotation)
        if nested is not None and isinstance(value, list):
            kept: list[BaseModel] = []
            for index, sub in enumerate(value):
                item = parse_item(nested, sub)
                if item is None:
                    problems.append(f"{name}.{index}")
                    continue
                problems.extend(f"{name}.{index}.{p}" for p in item.problems)  # type: ignore[attr-defined]
                kept.append(item)
            values[name] = kept
            continue
        problems.append(name)
        placeholder = _placeholder(field.annotation, field.is_required(), value)
        if placeholder is not _UNSET:
            values[name] = placeholder
    try:
        item = model.model_validate(values)
    except ValidationError:
        item = _via_variant(model, values)
        if item is None:
            return None
    set_problems(item, tuple(problems))
    return item


def _via_variant(model: type[M], values: dict[str, Any]) -> M | None:
    """Validate what fits with required fields optional, then hand back a plain ``model``.

    The result is a real ``model`` instance (built with ``model_construct`` from validated
    values), so it pickles, compares and prints like any other; fields that did not fit hold
    None even where the type says otherwise, which ``problems`` names.
    """
    variant = _lenient_variant(model)
    try:
        parsed = variant.model_validate(values)
    except ValidationError:
        return None  # even the fields that fit alone do not validate: nothing sound to keep
    return model.model_construct(
        _fields_set=parsed.model_fields_set, **parsed.__dict__, **(parsed.model_extra or {})
    )


def _placeholder(annotation: Any, required: bool, value: Any) -> Any:
    """What a field that did not fit holds instead: None, a default (``_UNSET``), or text."""
    if not required:
        return _UNSET  # the field's default
    if _mentions(annotation, WorkflowState):
        return str(value) if _is_scalar(value) else "unknown"
    if annotation is str:
        return str(value) if _is_scalar(value) else ""
    return _UNSET  # required and not text: the lenient variant leaves it None


def _is_scalar(value: Any) -> bool:
    return value is not _UNSET and value is not None and isinstance(value, str | int | float)


def _mentions(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_mentions(arg, kind) for arg in get_args(annotation))


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The item model of a ``list[Model]`` (or ``list[Model] | None``) field, else None."""
    for candidate in (annotation, *get_args(annotation)):
        if get_origin(candidate) is list:
            (inner,) = get_args(candidate) or (None,)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
    return None


@cache
def _lenient_variant(model: type[M]) -> type[M]:
    """A subclass of ``model`` whose required non-text fields may be absent (odd items only).

    Text and state fields are left alone: they always get a placeholder.
    """
    overrides: dict[str, Any] = {
        name: (Optional[field.rebuild_annotation()], None)  # noqa: UP045 - built at runtime
        for name, field in model.model_fields.items()
        if field.is_required() and name not in IDENTITY_FIELDS
        and _placeholder(field.annotation, True, None) is _UNSET
    }
    variant: type[M] = create_model(
        f"Partial{model.__name__}", __base__=model, __module__=model.__module__, **overrides
    )
    return variant


def describe_odd(items: list[Any], limit: int = 5) -> str:
    """``"wf-2: created_at; wf-4: name, state"`` for the flagged items (for a log line)."""
    parts = []
    for item in items:
        problems = getattr(item, "problems", ())
        if problems:
            ident = next((getattr(item, f, None) for f in ("id", "event_id", "feed_id", "file_id")
                          if getattr(item, f, None)), "?")
            parts.append(f"{ident}: {', '.join(problems)}")
    more = len(parts) - limit
    return "; ".join(parts[:limit]) + (f" (and {more} more)" if more > 0 else "")
