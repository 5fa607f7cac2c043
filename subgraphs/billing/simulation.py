"""The pricing simulator: an organization's ledger replayed against a plan's terms (price per
month, included units and overage price per meter), month by month, and the line-by-line
difference between two such invoices; and the one rule both it and the usage query count
overage by (each calendar month's use against that month's units). Pure functions: the
service reads the ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from subgraphs.billing.plans import Plan

BASE = "plan"  # the key of the line of the plan's own price


@dataclass(frozen=True)
class MeterTerms:
    meter: str
    included: int
    overage_cents_per_unit: Decimal


@dataclass(frozen=True)
class Terms:
    """What a plan charges each month: its price and, per meter, what it includes and what
    each unit beyond costs (a meter it does not name costs nothing)."""

    name: str
    monthly_cents: Decimal
    meters: tuple[MeterTerms, ...]

    @classmethod
    def of(cls, plan: Plan) -> Terms:
        """A plan's terms a month: a yearly plan's price and units paced in twelve."""
        return cls(
            name=plan.name,
            monthly_cents=Decimal(plan.price_cents) / plan.months,
            meters=tuple(
                MeterTerms(m.key, plan.included_per_month(m.key), m.overage_cents_per_unit)
                for m in plan.meters
            ),
        )


@dataclass(frozen=True)
class Line:
    key: str  # ``plan`` or the meter's key
    description: str
    quantity: int  # months of the plan, or units beyond the included ones
    amount_cents: int


@dataclass(frozen=True)
class SimulatedInvoice:
    lines: tuple[Line, ...]

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


@dataclass(frozen=True)
class LineDiff:
    key: str
    current_cents: int
    draft_cents: int

    @property
    def delta_cents(self) -> int:
        return self.draft_cents - self.current_cents


def _cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def beyond(used: Mapping[date, int], months: Sequence[date], included: int) -> int:
    """Units used beyond ``included`` a month, month by month (a month's unused units do not
    lower another's overage), given the use per month (its first day)."""
    return sum(max(0, used.get(month, 0) - included) for month in months)


def invoice(
    terms: Terms, months: Sequence[date], used: Mapping[tuple[date, str], int]
) -> SimulatedInvoice:
    """The invoice of ``terms`` for ``months`` (their first days), given the use of each meter
    per month; each month includes the meter's units anew."""
    count = len(months)
    lines = [
        Line(BASE, f"{terms.name}, {count} month(s)", count, _cents(terms.monthly_cents * count))
    ]
    for meter in terms.meters:
        units = beyond({m: used.get((m, meter.meter), 0) for m in months}, months, meter.included)
        lines.append(
            Line(
                meter.meter,
                f"{meter.meter} beyond {meter.included} a month",
                units,
                _cents(meter.overage_cents_per_unit * units),
            )
        )
    return SimulatedInvoice(tuple(lines))


def months_of(first: date, last: date) -> list[date]:
    """The first days of the calendar months the days ``first`` to ``last`` touch."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def diff(current: SimulatedInvoice, draft: SimulatedInvoice) -> list[LineDiff]:
    """Each line key of either invoice, the plan's first, then meters by name."""
    mine = {line.key: line.amount_cents for line in current.lines}
    theirs = {line.key: line.amount_cents for line in draft.lines}
    keys: Sequence[str] = [BASE, *sorted((mine.keys() | theirs.keys()) - {BASE})]
    return [LineDiff(k, mine.get(k, 0), theirs.get(k, 0)) for k in keys]
