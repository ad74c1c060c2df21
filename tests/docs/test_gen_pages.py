"""docs/gen_pages.py: the paper map is generated from the code, and the reference builds with no warning."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("gen_pages", REPO / "docs" / "gen_pages.py")
gen_pages = importlib.util.module_from_spec(SPEC)
sys.modules["gen_pages"] = gen_pages  # dataclasses look their module up there
SPEC.loader.exec_module(gen_pages)

# `make docs`'s own environment, else this one if it has the [docs] extra
MKDOCS = (
    [str(REPO / ".venv-docs" / "bin" / "mkdocs")] if (REPO / ".venv-docs" / "bin" / "mkdocs").exists()
    else [sys.executable, "-m", "mkdocs"] if importlib.util.find_spec("mkdocs") and importlib.util.find_spec("mkdocs_gen_files")
    else None
)


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ("Eqs. (5)-(7), (21)", {"Eq. (5)", "Eq. (6)", "Eq. (7)", "Eq. (21)"}),
        ("Eqs. 4-6, 8, 10)", {"Eq. (4)", "Eq. (5)", "Eq. (6)", "Eq. (8)", "Eq. (10)"}),
        ("(Eq. 7), 3 tokens", {"Eq. (7)"}),
        ("Props. 1, 2, 4 and Cor. 1", {"Prop. 1", "Prop. 2", "Prop. 4", "Corollary 1"}),
        ("Proposition 3; Corollary 1", {"Prop. 3", "Corollary 1"}),
        ("SPS Thm 3.1 and Lemmas 3.2-3.3", {"Theorem 3.1", "Lemma 3.2", "Lemma 3.3"}),
        ("Algorithm 2 of the paper; Algorithms 1", {"Algorithm 1", "Algorithm 2"}),
        ("Table 1, Figure S.6, Appendix B.2.4, Section 4.1", set()),
    ],
)
def test_citations_are_read_as_the_code_writes_them(text, labels):
    assert gen_pages.citations(text) == labels


@pytest.fixture(scope="module")
def entries():
    return gen_pages.collect()


def test_the_map_lists_every_proposition_corollary_algorithm_and_the_numbered_equations(entries):
    expected = {f"Prop. {n}" for n in range(1, 6)} | {"Corollary 1", "Algorithm 1", "Algorithm 2", "Theorem 3.1", "Lemma 3.2", "Lemma 3.3"}
    expected |= {f"Eq. ({n})" for n in range(4, 22)}
    assert expected <= set(entries)
    assert "Prop. 9" not in entries  # this file's test data is not scanned
    for label in ("Prop. 1", "Prop. 2", "Prop. 3", "Prop. 4", "Prop. 5", "Corollary 1", "Algorithm 1", "Algorithm 2"):
        entry = entries[label]
        assert entry.column("exact") + entry.column("llm"), f"{label}: no function cites it"
        assert entry.column("tests"), f"{label}: no test cites it"
    for label in ("Prop. 1", "Prop. 2", "Prop. 4", "Corollary 1", "Theorem 3.1", "Lemma 3.2"):
        assert any(site.check for site in entries[label].column("proofs_check")), f"{label}: no proofs_check entry"


def test_the_map_links_functions_tests_checks_and_figures(entries):
    text = gen_pages.render_paper_map(entries, gen_pages.figure_ids())
    section = text.split("## Prop. 1 {#prop-1}", 1)[1].split("\n## ", 1)[0]
    assert "[`exact.renyi.odds_correction`][exact.renyi.odds_correction]" in section
    assert "(sources/tests/exact/test_renyi.md#_prop1_check)" in section
    assert "[`prop1_eq7`](sources/proofs_check/power_conditionals.md#check_prop1_eq7)" in section
    assert "[S6](sources/figures/s6_renyi_correction.md)" in section
    assert "| [Algorithm 2](#algorithm-2) |" in text


def test_a_new_citation_in_the_code_appears_in_the_map(tmp_path):
    for top in gen_pages.SCANNED:
        (tmp_path / top).mkdir()
    (tmp_path / "exact" / "brand_new.py").write_text(
        '"""Module."""\n\ndef tilted(x):\n    """The tilt of Prop. 9 (Eqs. 40-41)."""\n\n\nclass _Hidden:\n    def run(self):\n        """Algorithm 9."""\n'
    )
    (tmp_path / "tests" / "test_brand_new.py").write_text("def test_tilted():\n    assert True  # Prop. 9\n")
    entries = gen_pages.collect(tmp_path)
    assert set(entries) == {"Eq. (40)", "Eq. (41)", "Prop. 9", "Algorithm 9"}
    text = gen_pages.render_paper_map(entries, {})
    assert "[`exact.brand_new.tilted`][exact.brand_new.tilted]" in text
    assert "[`exact.brand_new._Hidden.run`][exact.brand_new]" in text  # private: links to its module
    assert "[`tests/test_brand_new.py::test_tilted`](sources/tests/test_brand_new.md#test_tilted)" in text
    page = gen_pages.render_source("tests/test_brand_new.py", tmp_path)
    assert "## `test_tilted` {#test_tilted}" in page


def test_every_generated_page_outside_sources_is_in_the_nav():
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [path for path in gen_pages.pages() if not path.startswith("sources/") and f" {path}" not in config]
    assert not missing, f"add to mkdocs.yml's nav: {missing}"


def test_api_pages_cover_every_module_of_the_packages():
    shown = "".join(gen_pages.render_api_page(p, f) for p, f in gen_pages.API_PAGES.items())
    modules = {
        path.relative_to(REPO).as_posix().removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for top in gen_pages.LIBRARY for path in (REPO / top).rglob("*.py") if "__pycache__" not in path.parts
    }
    assert {m for m in modules if f"::: {m}\n" not in shown} == set()


@pytest.mark.slow  # ~16 s; .ci/run builds the same reference strictly (`make docs`) before the suite
@pytest.mark.skipif(MKDOCS is None, reason="no .venv-docs (`make docs` creates it) and no [docs] extra here")
def test_the_reference_builds_strictly(tmp_path):
    environment = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true"}
    result = subprocess.run(
        [*MKDOCS, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, env=environment, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "site" / "paper-map" / "index.html").exists()
    assert 'id="exact.testing.assertions.assert_sampler_matches"' in (tmp_path / "site" / "reference" / "exact.testing" / "index.html").read_text()


def test_the_command_line_prints_the_map():
    result = subprocess.run([sys.executable, str(REPO / "docs" / "gen_pages.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("# Paper map")
