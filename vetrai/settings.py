"""The one settings object of a platform process: the core section and every part's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.settings import CoreSettings, Section, SettingsError, load
from router.settings import RouterSettings
from subgraphs.auth.settings import AuthSettings
from subgraphs.billing.settings import BillingSettings
from subgraphs.kernel.storage import StorageSettings
from subgraphs.keys.settings import KeysSettings
from subgraphs.notifications.settings import NotificationsSettings
from subgraphs.support.settings import SupportSettings
from subgraphs.tenancy.settings import TenancySettings
from subgraphs.themes.settings import ThemesSettings
from subgraphs.workers.settings import WorkersSettings


class PlatformSettings(BaseModel):
    """Satisfies the ``Settings`` protocol of the router and of every subgraph."""

    model_config = ConfigDict(frozen=True)

    core: CoreSettings
    router: RouterSettings
    auth: AuthSettings
    tenancy: TenancySettings
    keys: KeysSettings
    billing: BillingSettings
    notifications: NotificationsSettings
    support: SupportSettings
    storage: StorageSettings
    themes: ThemesSettings
    workers: WorkersSettings

    @classmethod
    def sections(cls) -> dict[str, type[Section]]:
        return {name: field.annotation for name, field in cls.model_fields.items()}  # type: ignore[misc]

    @classmethod
    def variables(cls) -> set[str]:
        """Every environment variable the platform reads."""
        return {s.variable(name) for s in cls.sections().values() for name in s.model_fields}

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> PlatformSettings:
        """Pydantic's copy, refusing names that are no section: a field of a section given here
        would be set beside it and read by nothing (``replace`` changes fields)."""
        unknown = set(update or {}) - set(type(self).model_fields)
        if unknown:
            names = ", ".join(sorted(unknown))
            raise SettingsError(f"not sections of the settings: {names}; use replace()")
        return super().model_copy(update=update, deep=deep)

    def replace(self, **changes: Any) -> PlatformSettings:
        """A copy with fields changed by name, whatever section holds them."""
        updates = {
            name: getattr(self, name).model_copy(update=mine)
            for name, mine in _by_section(changes).items()
            if mine
        }
        return self.model_copy(update=updates)


def _by_section(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections = PlatformSettings.sections()
    unknown = set(values) - {name for s in sections.values() for name in s.model_fields}
    if unknown:
        raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
    return {
        name: {k: v for k, v in values.items() if k in section.model_fields}
        for name, section in sections.items()
    }


def load_settings(**overrides: Any) -> PlatformSettings:
    """Read every section from the environment; ``overrides`` by field name."""
    sections = PlatformSettings.sections()
    mine = _by_section(overrides)
    return PlatformSettings(**{name: load(s, **mine[name]) for name, s in sections.items()})
