"""CITATION.cff is valid CFF 1.2.0 and cites arXiv 2605.04542; the version is one value everywhere."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

import exact

REPO = Path(__file__).resolve().parents[1]
CITATION = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
CFFCONVERT = REPO / ".venv-docs" / "bin" / "cffconvert"


def _valid_authors(authors) -> bool:
    return isinstance(authors, list) and authors and all(a.get("name") or a.get("family-names") for a in authors)


def test_citation_has_cff_1_2_0s_required_keys_and_the_paper():
    assert CITATION["cff-version"] == "1.2.0"
    assert CITATION["message"] and CITATION["title"] and _valid_authors(CITATION["authors"])
    assert CITATION["type"] == "software" and str(CITATION["version"]) == exact.__version__
    paper = CITATION["preferred-citation"]
    assert paper["type"] == "article" and "Power Distribution Bridges Sampling" in paper["title"]
    assert _valid_authors(paper["authors"]) and isinstance(paper["year"], int)
    assert "arXiv:2605.04542" in [identifier["value"] for identifier in paper["identifiers"]]


@pytest.mark.skipif(not CFFCONVERT.exists(), reason="cffconvert not in .venv-docs (`.venv-docs/bin/pip install cffconvert`)")
def test_cffconvert_validates_the_citation():
    result = subprocess.run([str(CFFCONVERT), "--validate", "-i", str(REPO / "CITATION.cff")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_version_is_read_from_one_place():
    import llm

    assert exact.__version__ == llm.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", exact.__version__)
    assert 'version = { attr = "exact._version.__version__" }' in (REPO / "pyproject.toml").read_text()


def test_the_changelog_has_the_current_version_and_the_policy():
    text = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{exact.__version__}] - " in text and "## [Unreleased]" in text
    assert "## Version policy" in text and "alpha_level" in text
