"""Typed model of a plan catalogue file (see ``jiangsu-2020.yaml``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.catalogue.regions import RegionIndex

Comparator = Literal[">=", ">", "<=", "<"]
IndicatorKind = Literal[
    "pass_rate",  # share of passing inspections/acceptances, from individual events
    "reported_share",  # numerator/denominator reported per region and period
    "reported_value",  # a value (an index) reported per region and period
    "mean_score",  # respondent-weighted mean of survey scores
    "milestone",  # cumulative count judged by linear pace to the deadline
    "quota_coverage",  # samples collected against the programme's quota, by pace
    "completion_share",  # share of collected samples inspected within N days
]
EventSource = Literal["inspection", "acceptance", "figure", "survey", "milestone", "sample"]
WINDOW_PATTERN = re.compile(r"^(7d|30d|90d|365d|mtd|qtd|ytd|plan|\d{4}(-\d{2}|-Q[1-4])?)$")

_Frozen = ConfigDict(frozen=True, extra="forbid")


class Target(BaseModel):
    model_config = _Frozen
    op: Comparator
    value: float

    def met_by(self, value: float) -> bool:
        match self.op:
            case ">=":
                return value >= self.value
            case ">":
                return value > self.value
            case "<=":
                return value <= self.value
            case "<":
                return value < self.value

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">=", ">")


class PlanInfo(BaseModel):
    model_config = _Frozen
    id: str
    title: str
    title_en: str = ""
    issued_by: str = ""
    issued_by_en: str = ""
    # Who publishes the periodic quality status report (定期发布质量状况分析报告) under this plan: the report's
    # issuing unit (发文单位), printed at its head and foot. Empty: the plan's own issuer.
    report_issuer: str = ""
    report_issuer_en: str = ""
    # True for a catalogue whose targets are illustrative (an example, not a plan in force): shown beside them.
    illustrative: bool = False
    target_year: int
    start: dt.date
    deadline: dt.date
    utc_offset_hours: int = 8


class Defaults(BaseModel):
    model_config = _Frozen
    min_sample: int = Field(30, ge=1)
    windows: tuple[str, ...] = ("30d",)
    # Alert on each category's figure too, not only on all categories together.
    alert_categories: bool = False
    # Rectification loop (issue 19): follow-up inspections an alert needs before it counts as
    # rectified, where no programme says otherwise.
    follow_up_inspections: int = Field(3, ge=1)


class AgencySpec(BaseModel):
    model_config = _Frozen
    name: str
    current_name: str = ""


class NamedRegion(BaseModel):
    model_config = _Frozen
    name: str
    name_en: str = ""


class ProvinceSpec(NamedRegion):
    code: str = Field(pattern=r"^\d{2}0000$")


class RegionsSpec(BaseModel):
    model_config = _Frozen
    province: ProvinceSpec
    cities: dict[str, NamedRegion]
    # County-level divisions (GB/T 2260): when listed, a county code must be one of them (the check is exact);
    # a catalogue without them accepts any county code of a known city, as before.
    counties: dict[str, NamedRegion] = {}
    county_source: str = ""  # which edition of the division codes ``counties`` was copied from

    @model_validator(mode="after")
    def _cities_in_province(self) -> RegionsSpec:
        prefix = self.province.code[:2]
        for code in self.cities:
            if not re.fullmatch(rf"{prefix}\d{{2}}00", code) or code == self.province.code:
                raise ValueError(f"city code {code!r} is not a city of province {self.province.code}")
        for code in self.counties:
            if not re.fullmatch(r"\d{6}", code) or code.endswith("00") or code[:4] + "00" not in self.cities:
                raise ValueError(f"county code {code!r} is not a county-level division of a listed city")
        return self


class ProgrammeSpec(BaseModel):
    model_config = _Frozen
    name: str = ""
    indicator: str
    lead_agency: str
    categories: tuple[str, ...] = Field(min_length=1)
    annual_quota_per_city: int = Field(0, ge=0)
    # Days after an inspection during which the enterprise may object and ask for a re-test (复检);
    # a failing verdict is provisional until then (issue 19).
    objection_days: int = Field(15, ge=0, le=366)
    # Follow-up inspections (跟踪抽检) an alert of this programme needs to count as rectified.
    follow_up_inspections: int = Field(3, ge=1, le=1000)


class IndicatorSpec(BaseModel):
    model_config = _Frozen
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name_zh: str
    name_en: str
    clause: str
    kind: IndicatorKind
    source: EventSource
    target: Target
    min_sample: int | None = Field(None, ge=1)
    windows: tuple[str, ...] | None = None
    lead_agency: str  # an agency id, or "programme": the lead agency of the programme concerned
    other_agencies: tuple[str, ...] = ()
    acceptance_sizes: tuple[Literal["large", "medium", "small"], ...] = ()
    survey_sector: Literal["producer_services", "consumer_services"] | None = None
    completion_days: int | None = Field(None, ge=1)
    # "province": judged for the province only (plan-wide milestones); "all": province and cities.
    scope: Literal["all", "province"] = "all"
    alert_categories: bool | None = None

    @model_validator(mode="after")
    def _windows_known(self) -> IndicatorSpec:
        for window in self.windows or ():
            if not WINDOW_PATTERN.match(window):
                raise ValueError(f"unknown window {window!r}")
        return self

    @property
    def is_rate(self) -> bool:
        return self.kind in ("pass_rate", "reported_share", "completion_share")


class ExpectedReport(BaseModel):
    """A reported figure the plan expects (issue 19): ``indicator`` from every region of ``level``, for every
    ``period`` (month, quarter, year), due ``due_days`` after the period ends. Tracking starts with
    ``from_period`` and, on a system that never received a report of the indicator, not at all (an
    empty system owes nobody a notice)."""

    model_config = _Frozen
    indicator: str
    level: Literal["city", "province"] = "city"
    period: Literal["month", "quarter", "year"] = "month"
    due_days: int = Field(10, ge=0, le=366)
    from_period: str | None = Field(None, pattern=r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")


@dataclass(frozen=True, slots=True)
class RegionPath:
    """A region code and everything it rolls up to, most specific first."""

    code: str
    city: str | None
    province: str

    @property
    def levels(self) -> tuple[str, ...]:
        out = [self.code]
        if self.city and self.city != self.code:
            out.append(self.city)
        if self.province != self.code:
            out.append(self.province)
        return tuple(out)


class Catalogue(BaseModel):
    model_config = _Frozen
    catalogue_version: int
    plan: PlanInfo
    defaults: Defaults = Defaults()
    agencies: dict[str, AgencySpec]
    regions: RegionsSpec
    # Names of category codes (optional): shown beside the codes, and accepted in spreadsheet cells.
    categories: dict[str, NamedRegion] = {}
    programmes: dict[str, ProgrammeSpec]
    indicators: tuple[IndicatorSpec, ...]
    expected_reports: tuple[ExpectedReport, ...] = ()

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalogue:
        ids = [spec.id for spec in self.indicators]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"indicator ids appear twice: {', '.join(duplicates)}")
        known = set(ids)
        for name, programme in self.programmes.items():
            if programme.indicator not in known:
                raise ValueError(f"programme {name!r} names unknown indicator {programme.indicator!r}")
            if programme.lead_agency not in self.agencies:
                raise ValueError(f"programme {name!r} names unknown agency {programme.lead_agency!r}")
        for spec in self.indicators:
            for agency in (spec.lead_agency, *spec.other_agencies):
                if agency != "programme" and agency not in self.agencies:
                    raise ValueError(f"indicator {spec.id!r} names unknown agency {agency!r}")
        for expected in self.expected_reports:
            found = next((spec for spec in self.indicators if spec.id == expected.indicator), None)
            if found is None or found.source != "figure":
                raise ValueError(f"expected report names {expected.indicator!r}, not an indicator reported by figures")
        return self

    # ---- look-ups -------------------------------------------------------------------------
    @cached_property
    def indicator_index(self) -> dict[str, IndicatorSpec]:
        return {spec.id: spec for spec in self.indicators}

    def indicator(self, indicator_id: str) -> IndicatorSpec | None:
        return self.indicator_index.get(indicator_id)

    def min_sample(self, spec: IndicatorSpec) -> int:
        return spec.min_sample or self.defaults.min_sample

    def windows(self, spec: IndicatorSpec) -> tuple[str, ...]:
        return spec.windows or self.defaults.windows

    def alert_categories(self, spec: IndicatorSpec) -> bool:
        return self.defaults.alert_categories if spec.alert_categories is None else spec.alert_categories

    def judged_regions(self, spec: IndicatorSpec) -> tuple[str, ...]:
        """The regions whose figures are judged against the target (and may alert)."""
        if spec.scope == "province":
            return (self.province_code,)
        return (self.province_code, *self.city_codes)

    @cached_property  # the catalogue is frozen; the hot path asks for it per event
    def tz(self) -> dt.timezone:
        return dt.timezone(dt.timedelta(hours=self.plan.utc_offset_hours))

    @property
    def province_code(self) -> str:
        return self.regions.province.code

    @cached_property
    def city_codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.regions.cities))

    def region_name(self, code: str) -> str:
        if code == self.province_code:
            return self.regions.province.name
        city = self.regions.cities.get(code)
        if city:
            return city.name
        county = self.regions.counties.get(code)
        if county:
            return county.name
        path = self.resolve_region(code)
        return f"{self.region_name(path.city)} {code}" if path and path.city else code

    def region_name_en(self, code: str) -> str:
        """The English name where the catalogue has one (province, cities); a county's Chinese name otherwise."""
        named = self.regions.cities.get(code) or self.regions.counties.get(code)
        if code == self.province_code:
            named = self.regions.province
        return (named.name_en or named.name) if named else code

    def resolve_region(self, code: str) -> RegionPath | None:
        """Map a region code to its roll-up path, or None when the catalogue does not know it. With counties
        listed, only those county codes are known; without, any county code of a known city is."""
        province = self.province_code
        if code == province:
            return RegionPath(code=code, city=None, province=province)
        if not re.fullmatch(r"\d{6}", code):
            return None
        city = code[:4] + "00"
        if city not in self.regions.cities:
            return None
        if code != city and self.regions.counties and code not in self.regions.counties:
            return None
        return RegionPath(code=code, city=city, province=province)

    def counties_of(self, city_code: str) -> tuple[str, ...]:
        """The county-level codes the catalogue lists under a city (empty when it lists none)."""
        prefix = city_code[:4]
        return tuple(sorted(code for code in self.regions.counties if code.startswith(prefix)))

    def find_region(self, text: str) -> str:
        """A region by code or name (``320583``, ``昆山市``, ``苏州市昆山市``, ``Suzhou``) → its code.
        Raises RegionNotFound (unknown, or a name that several regions share: the message lists them)."""
        return self._region_index.find(text)

    @cached_property
    def _region_index(self) -> RegionIndex:
        return RegionIndex(self)

    def category_name(self, code: str) -> str:
        named = self.categories.get(code)
        return named.name if named else code

    def city_agency(self, city_code: str) -> str:
        return f"city-{city_code[:4]}"

    def agency_ids(self) -> tuple[str, ...]:
        return (*self.agencies, *(self.city_agency(code) for code in self.city_codes))

    def programme_for_indicator(self, indicator_id: str) -> list[str]:
        return [name for name, p in self.programmes.items() if p.indicator == indicator_id]

    def agencies_for(self, spec: IndicatorSpec, region: str, programme: str | None = None) -> tuple[str, ...]:
        """Lead agency first, then the others, then the city government for a city-scoped figure."""
        found: list[str] = []
        leads = [spec.lead_agency, *spec.other_agencies]
        for agency in leads:
            if agency == "programme":
                names = [programme] if programme else self.programme_for_indicator(spec.id) or list(self.programmes)
                found.extend(self.programmes[n].lead_agency for n in names if n in self.programmes)
            else:
                found.append(agency)
        path = self.resolve_region(region)
        if path and path.city:
            found.append(self.city_agency(path.city))
        return tuple(dict.fromkeys(found))
