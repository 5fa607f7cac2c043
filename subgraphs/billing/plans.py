"""The plan catalogue, read from ``plans.yaml`` and validated once: what each plan costs and
what it grants."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.caller import Limit

FREE = "free"
API_REQUESTS_METER = "api_requests"  # the meter the router counts (see billing.contract)
MONTHS = {"month": 1, "year": 12}  # calendar months in a plan's interval
PLANS_FILE = Path(__file__).parent / "plans.yaml"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


KEY = r"^[a-z][a-z0-9_]{0,63}$"


class Feature(_Frozen):
    """``enabled`` for an on/off feature, ``limit`` for a counted one (None: unlimited);
    ``meter``: the ledger's meter whose use this month counts against the limit, which is then
    the units the meter grants a month (the plan fills it in)."""

    key: str = Field(pattern=KEY)
    enabled: bool = True
    limit: int | None = Field(default=None, ge=0)
    meter: str | None = Field(default=None, pattern=KEY)


class Meter(_Frozen):
    """``included`` units each period (a yearly plan's granted a twelfth each month); each unit
    beyond costs ``overage_cents_per_unit``."""

    key: str = Field(pattern=KEY)
    included: int = Field(ge=0)
    overage_cents_per_unit: Decimal = Field(default=Decimal(0), ge=0, decimal_places=6)

    @model_validator(mode="after")
    def _only_capped_meters_cost(self) -> Meter:
        # A spend cap must be able to stop what it caps: only the router's request count is
        # refused past the cap, so only requests may cost beyond the included units.
        if self.overage_cents_per_unit and self.key != API_REQUESTS_METER:
            raise ValueError(
                f"meter '{self.key}': only {API_REQUESTS_METER} may have an overage price"
            )
        return self


class Plan(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    interval: Literal["month", "year"]
    price_cents: int = Field(ge=0)
    currency: str = Field(pattern=r"^[a-z]{3}$")
    trial_days: int = Field(ge=0, le=730)
    grace_days: int = Field(ge=0, le=90)
    features: tuple[Feature, ...] = ()
    meters: tuple[Meter, ...] = ()
    # Past its monthly request quota an organization is refused (hard) or only warned (soft).
    quota: Literal["hard", "soft"] = "hard"

    @model_validator(mode="before")
    @classmethod
    def _metered_limits_from_meters(cls, data: Any) -> Any:
        """A feature counted by a meter is limited to the units the meter grants a month, so
        the number is written once (on the meter) and a yearly plan's quota is its monthly
        share; a limit of the feature's own is refused."""
        if not isinstance(data, dict):
            return data
        months = MONTHS.get(str(data.get("interval")), 1)
        meters = [m for m in data.get("meters") or () if isinstance(m, dict)]
        included = {m.get("key"): m.get("included") for m in meters}
        features = []
        for feature in data.get("features") or ():
            if isinstance(feature, dict) and feature.get("meter") is not None:
                if "limit" in feature:
                    raise ValueError(
                        f"feature '{feature.get('key')}': its limit is its meter's units a"
                        " month; set `included` on the meter instead"
                    )
                units = included.get(feature["meter"])
                if isinstance(units, int):
                    feature = {**feature, "limit": units // months}
            features.append(feature)
        return {**data, "features": features}

    @model_validator(mode="after")
    def _features_count_own_meters(self) -> Plan:
        own = {m.key for m in self.meters}
        if any(f.meter is not None and f.meter not in own for f in self.features):
            raise ValueError(f"plan '{self.key}': a feature names a meter the plan lacks")
        return self

    @model_validator(mode="after")
    def _yearly_units_paced_monthly(self) -> Plan:
        # A yearly plan grants its units a twelfth each month; Stripe would count a yearly
        # overage Price's free tier once a year, against the whole year's use, so a yearly plan
        # charges no overage (its quota is hard, or its overage free).
        if self.months == 1:
            return self
        for meter in self.meters:
            if meter.included % self.months:
                raise ValueError(
                    f"plan '{self.key}': meter '{meter.key}' includes units a year that do not"
                    f" split into {self.months} equal months"
                )
            if meter.overage_cents_per_unit:
                raise ValueError(f"plan '{self.key}': a yearly plan has no overage price")
        return self

    @property
    def months(self) -> int:
        """Calendar months in one billing period."""
        return MONTHS[self.interval]

    @property
    def is_free(self) -> bool:
        return self.price_cents == 0

    def enabled(self, feature: str) -> bool:
        """Whether the plan grants the on/off ``feature`` (not when it lacks it)."""
        return any(f.key == feature and f.enabled for f in self.features)

    def included_per_month(self, meter: str) -> int:
        """Units of ``meter`` the plan grants each calendar month (UTC): a monthly plan's
        period's, a yearly plan's year paced in twelve; unused units do not carry over; 0
        when the plan lacks the meter."""
        return next((m.included // self.months for m in self.meters if m.key == meter), 0)

    def grants(self, feature: str) -> Limit | None:
        """What the plan grants of ``feature`` as callers carry it: its limit, True when on
        without one, False when off, None when the plan does not name it."""
        found = next((f for f in self.features if f.key == feature), None)
        if found is None:
            return None
        return found.limit if found.enabled and found.limit is not None else found.enabled

    def grants_of(self, features: Iterable[str]) -> dict[str, Limit | None]:
        return {feature: self.grants(feature) for feature in features}


class Catalogue(_Frozen):
    plans: tuple[Plan, ...]

    @model_validator(mode="after")
    def _one_free_plan_and_unique_keys(self) -> Catalogue:
        keys = [p.key for p in self.plans]
        if len(set(keys)) != len(keys):
            raise ValueError("plan keys must be unique")
        if FREE not in keys:
            raise ValueError(f"a plan '{FREE}' is required")
        return self

    def get(self, key: str) -> Plan | None:
        return next((p for p in self.plans if p.key == key), None)

    @property
    def meters(self) -> frozenset[str]:
        """Every meter some plan counts: what the ledger accepts."""
        return frozenset(m.key for p in self.plans for m in p.meters)

    @property
    def free(self) -> Plan:
        plan = self.get(FREE)
        assert plan is not None  # noqa: S101 - the validator guarantees it
        return plan


def read_catalogue(path: Path) -> Catalogue:
    return Catalogue.model_validate(yaml.safe_load(path.read_text()))


@functools.cache
def catalogue() -> Catalogue:
    """The platform's plans (read once per process)."""
    return read_catalogue(PLANS_FILE)
