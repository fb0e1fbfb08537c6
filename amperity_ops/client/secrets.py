"""Secrets as references: ``{env: NAME}`` (read from the environment when used) or a literal.

A :class:`SecretRef` is what a configuration holds instead of a secret: its ``repr``/``str``
show the variable's name (or ``'**********'``), its dumps never contain a literal value, and
:meth:`SecretRef.reveal` reads the value at the moment of use. Pydantic only: importing this
module loads no HTTP client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["ConfigError", "SecretRef"]


class ConfigError(Exception):
    """The configuration cannot be used. ``str(err)`` is meant for people: no traceback needed.

    Raised by :meth:`SecretRef.reveal` for an unset variable, and by the policy file's loader
    (``amperity_ops.settings`` re-exports this very class).
    """


class SecretRef(BaseModel):
    """A secret: ``{env: NAME}`` (read from the environment when used) or a literal string.

    ``repr``/``str`` show the variable name (or ``'**********'`` for a literal), never the value;
    ``model_dump`` never contains a literal value either.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    """Name of the environment variable holding the secret."""
    value: SecretStr | None = Field(default=None, exclude=True, repr=False)
    """A literal secret (discouraged outside demos: it ends up in the file)."""

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"value": data}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.value is None):
            raise ValueError("give either {env: VARIABLE_NAME} or a literal string")
        if self.env is not None and not self.env.strip():
            raise ValueError("env must name an environment variable")
        return self

    @classmethod
    def from_env(cls, name: str) -> SecretRef:
        """A reference to the environment variable ``name``."""
        return cls(env=name)

    @property
    def is_set(self) -> bool:
        """True if the secret can be resolved right now (the variable exists and is not empty)."""
        if self.env is not None:
            return bool(os.environ.get(self.env))
        return True

    def reveal(self, environ: Mapping[str, str] | None = None) -> str:
        """Resolve the secret. Call this at the moment of use, never store the result.

        Args:
            environ: Where to read ``env`` from (default ``os.environ``).

        Returns:
            The secret value.

        Raises:
            ConfigError: The environment variable is not set (the message names it).
        """
        if self.value is not None:
            return self.value.get_secret_value()
        assert self.env is not None
        found = (os.environ if environ is None else environ).get(self.env)
        if not found:
            raise ConfigError(f"environment variable {self.env} is not set (it holds a secret)")
        return found

    def __repr__(self) -> str:
        return f"SecretRef(env={self.env!r})" if self.env else "SecretRef('**********')"

    __str__ = __repr__
