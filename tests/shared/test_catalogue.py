from pathlib import Path

import pytest

from shared.catalogue import CatalogueError, load_catalogue, parse_catalogue
from shared.settings import DEFAULT_CATALOGUE

PLAN_TARGETS = {
    "agri_sampling_pass_rate": (">=", 0.97),
    "national_spot_check_pass_rate": (">=", 0.90),
    "project_first_acceptance_rate": (">=", 1.0),
    "green_building_share": (">=", 1.0),
    "three_products_share": (">=", 0.55),
    "metrology_coverage": (">=", 0.98),
    "producer_services_satisfaction": (">=", 85),
    "consumer_services_satisfaction": (">=", 80),
    "manufacturing_quality_index": (">=", 88),
    "new_international_standards": (">=", 20),
    "new_national_standards": (">=", 600),
    "new_inspection_centres": (">=", 15),
    "consumer_brands": (">=", 100),
}


def test_shipped_catalogue_carries_every_target_of_the_plan() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    for indicator_id, (op, value) in PLAN_TARGETS.items():
        spec = catalogue.indicator(indicator_id)
        assert spec is not None, indicator_id
        assert (spec.target.op, spec.target.value) == (op, value)
    assert len(catalogue.city_codes) == 13


def test_county_code_rolls_up_to_its_city_and_the_province() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    path = catalogue.resolve_region("320583")
    assert path is not None
    assert path.levels == ("320583", "320500", "320000")
    assert catalogue.resolve_region("330100") is None
    assert catalogue.resolve_region("329900") is None


def test_city_scoped_figure_is_routed_to_the_city_government_too() -> None:
    catalogue = load_catalogue(DEFAULT_CATALOGUE)
    spec = catalogue.indicator("agri_sampling_pass_rate")
    assert spec is not None
    assert catalogue.agencies_for(spec, "320500") == ("agri", "food-drug", "market-supervision", "city-3205")
    assert catalogue.agencies_for(spec, "320000") == ("agri", "food-drug", "market-supervision")


def test_a_bad_target_is_reported_with_its_line_number(tmp_path: Path) -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace('target: {op: ">=", value: 0.97}',
                                                                   'target: {op: "=>", value: 0.97}')
    line = next(i for i, row in enumerate(text.splitlines(), 1) if '"=>"' in row)
    with pytest.raises(CatalogueError, match=rf":{line}: indicators\.0\.target\.op"):
        parse_catalogue(text, source="plan.yaml")


def test_an_unknown_agency_is_rejected() -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace("lead_agency: agri\n", "lead_agency: agriculture\n", 1)
    with pytest.raises(CatalogueError, match="unknown agency 'agriculture'"):
        parse_catalogue(text)


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(CatalogueError, match=r"plan.yaml:2: not valid YAML"):
        parse_catalogue("catalogue_version: 1\nplan: [unclosed\n", source="plan.yaml")
