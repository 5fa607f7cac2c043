"""The router's configuration: a YAML file (``${VAR}`` and ``${VAR:-default}`` expanded from the
environment) holding limits, protection, persisted queries and rate limits. Every key has a
default, so the router runs with no file at all."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The file is unreadable or a key is wrong; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Section):
    max_depth: int = Field(default=15, ge=1)
    max_aliases: int = Field(default=30, ge=0)
    max_root_fields: int = Field(default=20, ge=1)
    # Demand control's estimate (see router/limits.py): admits the deep operations real
    # clients send (four nested lists of 10) and refuses fan-outs an order of magnitude wider.
    max_cost: int = Field(default=50_000, ge=1)
    # the size assumed for a list with no @listSize and no first/last/limit argument
    default_list_size: int = Field(default=10, ge=1)
    fetch_cost: int = Field(default=10, ge=0)
    max_body_bytes: int = Field(default=1_000_000, ge=256)
    max_batch: int = Field(default=10, ge=1)


class Window(_Section):
    limit: int = Field(ge=1)
    window_seconds: int = Field(ge=1, le=86_400)


class RateLimits(_Section):
    enabled: bool = True
    # keeps the counters of deployments that share one Redis apart
    namespace: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    anonymous: Window = Window(limit=300, window_seconds=60)
    # signed-in users acting outside any organization
    users: Window = Window(limit=600, window_seconds=60)
    plans: dict[str, Window] = Field(
        default_factory=lambda: {
            "free": Window(limit=600, window_seconds=60),
            "pro": Window(limit=6_000, window_seconds=60),
            "enterprise": Window(limit=60_000, window_seconds=60),
        }
    )
    organizations: dict[str, Window] = Field(default_factory=dict)
    operations: dict[str, Window] = Field(default_factory=dict)
    # subgraphs whose operations the monthly quota and the spend cap neither count nor refuse:
    # an organization past them must still be able to change its plan or raise its cap
    quota_exempt: list[str] = Field(default_factory=lambda: ["billing"])


class PersistedQueries(_Section):
    enabled: bool = True
    # only the operations of the manifest (Apollo's persisted query manifest format) are run
    persisted_only: bool = False
    manifest: Path | None = None
    ttl_seconds: int = Field(default=7 * 86_400, ge=60)


class Protection(_Section):
    csrf: bool = True
    cors_origins: list[str] = Field(default_factory=list)
    introspection: bool | None = None
    graphiql: bool | None = None


class SubscriptionLimits(_Section):
    per_connection: int = Field(default=20, ge=1)
    connections_per_caller: int = Field(default=10, ge=1)


class RouterConfig(_Section):
    limits: Limits = Limits()
    rate_limits: RateLimits = RateLimits()
    persisted_queries: PersistedQueries = PersistedQueries()
    protection: Protection = Protection()
    subscriptions: SubscriptionLimits = SubscriptionLimits()
    subgraph_urls: dict[str, str] = Field(default_factory=dict)
    subgraph_timeout_seconds: float = Field(default=30.0, gt=0)
    # GET /assets/<subgraph>/<path> is forwarded to the subgraph for paths under these prefixes
    public_assets: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "themes": ["css/", "files/", "preview/"],
            "workers": ["approvals/"],
        }
    )
    # and POST of a form too for these (pages whose address holds their credential)
    public_forms: dict[str, list[str]] = Field(default_factory=lambda: {"workers": ["approvals/"]})


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, dict):
        return {key: _expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item) for item in value]
    return value


def load_config(path: Path | None) -> RouterConfig:
    """The configuration in ``path`` (defaults for anything it leaves out; all defaults: None)."""
    if path is None:
        return RouterConfig()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return RouterConfig.model_validate(_expand(raw))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, error['loc'])) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None
