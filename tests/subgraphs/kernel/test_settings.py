"""Settings: every one documented in .env.example, a bad value named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError
from vetrai.settings import PlatformSettings, load_settings

EXAMPLE = Path(__file__).parents[3] / ".env.example"


def test_env_example_lists_every_setting_with_its_default() -> None:
    lines = [line for line in EXAMPLE.read_text().splitlines() if line and line[0] != "#"]
    documented = dict(line.split("=", 1) for line in lines)
    assert set(documented) == PlatformSettings.variables()
    for section in PlatformSettings.sections().values():
        defaults = section.model_construct()
        for name in section.model_fields:
            value = getattr(defaults, name)
            shown = "" if value is None else str(value)
            assert documented[section.variable(name)] == shown, name


def test_sections_share_no_variable() -> None:
    sections = PlatformSettings.sections().values()
    assert sum(len(s.model_fields) for s in sections) == len(PlatformSettings.variables())


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("VETRAI_CONTEXT_TTL", "soon"),
        ("LOG_LEVEL", "LOUD"),
        ("VETRAI_CONTEXT_KEY", "short"),
        ("SMTP_PORT", "none"),
        ("ROUTER_PORT", "0"),
    ],
)
def test_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_production_requires_its_secrets(tmp_path: Path) -> None:
    from core.caller_context import context_key

    settings = load_settings(environment="production", data_dir=tmp_path)
    with pytest.raises(SettingsError, match="VETRAI_CONTEXT_KEY"):
        context_key(settings.core)
    assert not (tmp_path / "secrets").exists()


def test_a_copy_refuses_a_field_given_as_a_section_and_replace_changes_it() -> None:
    settings = load_settings(jwks_url=None)
    with pytest.raises(SettingsError, match="jwks_url"):
        settings.model_copy(update={"jwks_url": "http://127.0.0.1:9/jwks.json"})
    changed = settings.replace(jwks_url="http://127.0.0.1:9/jwks.json")
    assert changed.router.jwks_url == "http://127.0.0.1:9/jwks.json"
    assert settings.router.jwks_url is None
    same = settings.model_copy(update={"router": changed.router})
    assert same.router.jwks_url == changed.router.jwks_url


def test_each_login_is_read_from_its_variable_and_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql://vetrai_auth:hidden-password@db/vetrai"
    monkeypatch.setenv("AUTH_DATABASE_URL", url)
    monkeypatch.setenv("OUTBOX_DATABASE_URL", "")
    settings = load_settings()
    assert settings.core.login_url("auth") == url
    assert "outbox" not in settings.core.database_logins
    assert "hidden-password" not in repr(settings)
    assert "hidden-password" not in str(settings.core.model_dump())
    with pytest.raises(SettingsError, match=r"^TENANCY_DATABASE_URL: not set$"):
        settings.core.login_url("tenancy")
