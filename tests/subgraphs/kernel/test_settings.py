"""Settings: every one documented in .env.example, a bad value named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from subgraphs.kernel.settings import Settings, SettingsError, load_settings

EXAMPLE = Path(__file__).parents[3] / ".env.example"


def _variable(name: str) -> str:
    field = Settings.model_fields[name]
    return (field.alias or name).upper()


def test_env_example_lists_every_setting_with_its_default() -> None:
    lines = [line for line in EXAMPLE.read_text().splitlines() if line and line[0] != "#"]
    documented = dict(line.split("=", 1) for line in lines)
    assert set(documented) == {_variable(name) for name in Settings.model_fields}
    defaults = Settings.model_construct()
    for name in Settings.model_fields:
        value = getattr(defaults, name)
        shown = "" if value is None else str(value)
        assert documented[_variable(name)] == shown, name


@pytest.mark.parametrize(
    ("variable", "value"),
    [("VETRAI_CONTEXT_TTL", "soon"), ("LOG_LEVEL", "LOUD"), ("VETRAI_CONTEXT_KEY", "short")],
)
def test_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_production_requires_its_secrets(tmp_path: Path) -> None:
    from subgraphs.kernel.context import context_key

    settings = load_settings(environment="production", data_dir=tmp_path)
    with pytest.raises(SettingsError, match="VETRAI_CONTEXT_KEY"):
        context_key(settings)
    assert not (tmp_path / "secrets").exists()
