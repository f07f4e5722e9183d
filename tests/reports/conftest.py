import pytest

from tests.reports.facts import load_facts


@pytest.fixture
def facts(cast) -> dict:
    """Every demo shop's sales for the 100 days up to 9 Dec 2011, one upload per shop."""
    return load_facts()
