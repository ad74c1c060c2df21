"""Generate the documentation's pages from the code, so they cannot drift from it.

Run by the ``gen-files`` plugin of ``mkdocs build`` (``make docs``); stdlib only, reads
the sources as text (nothing of ours is imported).  It writes:

* ``index.md`` and ``guides/*.md`` -- README.md split at its ``## `` headings;
* ``changelog.md`` -- CHANGELOG.md;
* ``reference/<package>.md`` -- one API page per package (``exact``, ``exact.samplers``,
  ``exact.testing``, ``llm``, ``llm.experiments``): a mkdocstrings block for every module in it;
* ``paper-map.md`` -- every equation, proposition, corollary, lemma, theorem and algorithm
  that a docstring in ``exact/`` or ``llm/`` (or any text in ``tests/``, ``proofs_check/``,
  ``figures/``) cites, with its functions, tests, ``proofs_check`` entries and figures;
* ``sources/<path>.md`` -- the source of each test, check and figure the map links to,
  one anchor per top-level function or class.

``python docs/gen_pages.py`` prints the paper map (markdown) without building anything.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ("exact", "llm")
SCANNED = ("exact", "llm", "tests", "proofs_check", "figures")
NOT_SCANNED = ("tests/docs",)  # the generator's own tests quote citations as test data

# API pages: package -> the folders whose modules it shows (a sub-package with a page of its own is left out)
API_PAGES = {
    "exact": ["exact"],
    "exact.samplers": ["exact/samplers"],
    "exact.testing": ["exact/testing"],
    "llm": ["llm", "llm/hf", "llm/samplers"],
    "llm.experiments": ["llm/experiments", "llm/experiments/benchmarks"],
}

# how the code writes each kind of citation -> the label the map uses
KINDS = {
    "Eq.": r"Eqs?\.|Equations?",
    "Prop.": r"Props?\.|Propositions?",
    "Corollary": r"Cor\.|Corollar(?:y|ies)",
    "Lemma": r"Lemmas?",
    "Theorem": r"Theorems?|Thm\.?",
    "Algorithm": r"Algorithms?|Alg\.",
}
KIND_ORDER = list(KINDS)
_ITEM = r"(?:\(\d+(?:\.\d+)*\)|\d+(?:\.\d+)*)"
_RANGE = rf"{_ITEM}(?:\s*[-–]\s*{_ITEM})?"
CITATION = re.compile(
    rf"\b(?P<kind>{'|'.join(f'(?:{pattern})' for pattern in KINDS.values())})\s*(?P<items>{_RANGE}(?:\s*,\s*{_RANGE})*)"
)
# Theorems and lemmas numbered by section (3.1, 3.2, ...) are Scalable Power Sampling's (arXiv 2601.21590);
# everything else is the paper's (arXiv 2605.04542).
OTHER_PAPER = "Scalable Power Sampling (arXiv 2601.21590)"


def _kind(written: str) -> str:
    return next(kind for kind, pattern in KINDS.items() if re.fullmatch(pattern, written))


def _numbers(items: str) -> list[str]:
    """``"(5)-(7), 21"`` -> ``["5", "6", "7", "21"]``; ``"3.2-3.3"`` -> ``["3.2", "3.3"]``."""
    numbers = []
    for part in re.split(r"\s*,\s*", items):
        ends = [end.strip("() ") for end in re.split(r"\s*[-–]\s*", part)]
        if len(ends) == 2:
            head_a, _, last_a = ends[0].rpartition(".")
            head_b, _, last_b = ends[1].rpartition(".")
            if head_a == head_b and int(last_a) <= int(last_b):
                numbers += [f"{head_a}.{n}" if head_a else str(n) for n in range(int(last_a), int(last_b) + 1)]
                continue
        numbers += ends
    return numbers


def citations(text: str) -> set[str]:
    """The labels cited in ``text``: ``{"Eq. (6)", "Prop. 1", "Corollary 1", "Lemma 3.2", ...}``."""
    labels = set()
    for match in CITATION.finditer(text):
        kind = _kind(match.group("kind"))
        for number in _numbers(match.group("items")):
            labels.add(f"Eq. ({number})" if kind == "Eq." else f"{kind} {number}")
    return labels


def sort_key(label: str) -> tuple:
    kind, number = label.split(" ", 1)
    return KIND_ORDER.index(kind), tuple(int(n) for n in number.strip("()").split("."))


def anchor(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


@dataclass(frozen=True)
class Site:
    """One place that cites: a module, class or top-level function of a file."""

    path: str  # repository-relative file, e.g. "exact/power.py"
    name: str  # "" for the module itself, else "power_conditional" or "TabularAR.from_joint"
    check: str = ""  # the proofs_check registry name, for a registered check

    @property
    def module(self) -> str:
        dotted = self.path.removesuffix(".py").replace("/", ".")
        return dotted.removesuffix(".__init__")

    @property
    def in_library(self) -> bool:
        return self.path.split("/", 1)[0] in LIBRARY


@dataclass
class Entry:
    label: str
    sites: list[Site] = field(default_factory=list)

    def column(self, top: str) -> list[Site]:
        return sorted({site for site in self.sites if site.path.split("/", 1)[0] == top}, key=lambda s: (s.path, s.name))


def _register_name(node: ast.AST) -> str:
    for decorator in getattr(node, "decorator_list", []):
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "register" and decorator.args:
            first = decorator.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
    return ""


def _segment(lines: list[str], node: ast.AST) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "\n".join(lines[start - 1 : node.end_lineno])


def file_sites(path: Path, repo: Path = REPO) -> list[tuple[Site, str]]:
    """``(site, text)`` for the module and each top-level function/class (and method) of ``path``.

    In ``exact/`` and ``llm/`` the text is the docstring (what the code claims to implement);
    elsewhere it is the whole source of the object (tests and checks cite in comments and messages).
    """
    relative = path.relative_to(repo).as_posix()
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    library = relative.split("/", 1)[0] in LIBRARY
    found = []
    top_level = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if library:
        module_text = ast.get_docstring(tree) or ""
    else:
        inside = {n for node in top_level for n in range(min([node.lineno, *(d.lineno for d in node.decorator_list)]), node.end_lineno + 1)}
        module_text = "\n".join(line for number, line in enumerate(lines, 1) if number not in inside)
    found.append((Site(relative, ""), module_text))
    for node in top_level:
        text = (ast.get_docstring(node) or "") if library else _segment(lines, node)
        found.append((Site(relative, node.name, _register_name(node)), text))
        if isinstance(node, ast.ClassDef) and library:
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.append((Site(relative, f"{node.name}.{member.name}"), ast.get_docstring(member) or ""))
    return found


def python_files(repo: Path = REPO) -> list[Path]:
    files = (p for top in SCANNED for p in (repo / top).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(p for p in files if not p.relative_to(repo).as_posix().startswith(NOT_SCANNED))


def collect(repo: Path = REPO) -> dict[str, Entry]:
    """Every cited label -> the places citing it, over :data:`SCANNED`."""
    entries: dict[str, Entry] = {}
    for path in python_files(repo):
        for site, text in file_sites(path, repo):
            for label in citations(text):
                entries.setdefault(label, Entry(label)).sites.append(site)
    return dict(sorted(entries.items(), key=lambda item: sort_key(item[0])))


def figure_ids(repo: Path = REPO) -> dict[str, str]:
    """``figures/<module>.py`` -> its ``FIGURE_ID`` (read from the source, as ``paper_repro.py --list`` does)."""
    ids = {}
    for path in sorted((repo / "figures").glob("*.py")):
        match = re.search(r'^FIGURE_ID\s*=\s*"([^"]+)"', path.read_text(encoding="utf-8"), flags=re.M)
        if match:
            ids[path.relative_to(repo).as_posix()] = match.group(1)
    return ids


# ---- links ------------------------------------------------------------------------------------------

def source_page(path: str) -> str:
    return f"sources/{path.removesuffix('.py')}.md"


def source_anchor(name: str) -> str:
    return name.split(".", 1)[0]


def _library_link(site: Site) -> str:
    """An autorefs link to the API reference (private objects link to their module or class)."""
    if not site.name:
        return f"[`{site.module}`][{site.module}]"
    public = []
    for part in site.name.split("."):  # up to the first private part: the reference shows no private names
        if part.startswith("_") and not part.startswith("__"):
            break
        public.append(part)
    target = ".".join([site.module, *public])
    return f"[`{site.module}.{site.name}`][{target}]"


def _source_link(site: Site, text: str, page_depth: int = 0) -> str:
    prefix = "../" * page_depth
    hash_part = f"#{source_anchor(site.name)}" if site.name else ""
    return f"[{text}]({prefix}{source_page(site.path)}{hash_part})"


def render_paper_map(entries: dict[str, Entry], figures: dict[str, str]) -> str:
    out = [
        "# Paper map",
        "",
        "Generated from the code by `docs/gen_pages.py` at every build, so it cannot drift: each",
        "equation, proposition, corollary, lemma, theorem and algorithm cited in a docstring of `exact/`",
        "or `llm/`, or anywhere in `tests/`, `proofs_check/` and `figures/`, with the places citing it.",
        "Numbers are those of *Power Distribution Bridges Sampling, Self-Reward RL, and Self-Distillation*",
        f"(arXiv 2605.04542), except theorems and lemmas numbered by section, which are {OTHER_PAPER}'s.",
        "`proofs_check` entries run with `python -m proofs_check --only NAME`; figures with",
        "`python paper_repro.py --figure ID`.",
        "",
        "| cited | functions | tests | proofs_check | figures |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, entry in entries.items():
        checks = [s for s in entry.column("proofs_check") if s.check]
        figs = sorted({figures[s.path] for s in entry.column("figures") if s.path in figures})
        out.append(
            f"| [{label}](#{anchor(label)}) | {len(entry.column('exact')) + len(entry.column('llm'))} | "
            f"{len(entry.column('tests'))} | {', '.join(s.check for s in checks)} | {', '.join(figs)} |"
        )
    for label, entry in entries.items():
        out += ["", f"## {label} {{#{anchor(label)}}}", ""]
        library = entry.column("exact") + entry.column("llm")
        if library:
            out.append("**Functions:** " + ", ".join(_library_link(s) for s in library))
            out.append("")
        tests = entry.column("tests")
        if tests:
            out.append("**Tests:** " + ", ".join(_source_link(s, f"`{s.path}{'::' + s.name if s.name else ''}`") for s in tests))
            out.append("")
        checks = entry.column("proofs_check")
        if checks:
            out.append("**proofs_check:** " + ", ".join(
                _source_link(s, f"`{s.check}`" if s.check else f"`{s.module}{'.' + s.name if s.name else ''}`") for s in checks
            ))
            out.append("")
        figs = entry.column("figures")
        if figs:
            by_file = {}
            for site in figs:
                by_file.setdefault(site.path, site)
            out.append("**Figures:** " + ", ".join(
                _source_link(Site(path, ""), f"{figures[path]}" if path in figures else f"`{path}`") for path in by_file
            ))
            out.append("")
    return "\n".join(out) + "\n"


def render_source(path: str, repo: Path = REPO) -> str:
    """One page with the file's module part and one anchored section per top-level function or class."""
    source = (repo / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    out = [f"# `{path}`", "", f"Source of `{path}` (linked from the [paper map](../" + "../" * path.count("/") + "paper-map.md)).", ""]
    docstring = ast.get_docstring(tree)
    if docstring:
        out += ["```text", docstring, "```", ""]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out += [f"## `{node.name}` {{#{source_anchor(node.name)}}}", "", "```python", _segment(lines, node), "```", ""]
    return "\n".join(out)


def render_api_page(package: str, folders: list[str], repo: Path = REPO) -> str:
    out = [f"# `{package}`", "", f"::: {package}", "    options:", "      members: false", "      show_root_heading: false", ""]
    for folder in folders:
        for path in sorted((repo / folder).glob("*.py")):
            module = path.relative_to(repo).as_posix().removesuffix(".py").replace("/", ".")
            if module.endswith("__init__"):
                module = module.removesuffix(".__init__")
                if module == package:
                    continue
            out += [f"::: {module}", ""]
    return "\n".join(out)


def readme_pages(repo: Path = REPO) -> dict[str, str]:
    """README.md as ``index.md`` (up to the end of its Layout section) and one ``guides/<slug>.md`` per later section."""
    text = (repo / "README.md").read_text(encoding="utf-8")
    parts = re.split(r"^(?=## )", text, flags=re.M)
    home, guides = [parts[0]], {}
    for part in parts[1:]:
        heading = part.splitlines()[0][3:].strip()
        if not guides and heading in ("Quick start", "Layout"):
            home.append(part)
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", heading.lower().replace("`", "")).strip("-")
        guides[f"guides/{slug}.md"] = "# " + part[3:].replace("](docs/", "](../")
    return {"index.md": "".join(home).replace("](docs/", "]("), **guides}


def pages(repo: Path = REPO) -> dict[str, str]:
    """Every generated page: path under docs/ -> markdown."""
    entries = collect(repo)
    figures = figure_ids(repo)
    generated = {**readme_pages(repo), "changelog.md": (repo / "CHANGELOG.md").read_text(encoding="utf-8")}
    for package, folders in API_PAGES.items():
        generated[f"reference/{package}.md"] = render_api_page(package, folders, repo)
    generated["paper-map.md"] = render_paper_map(entries, figures)
    linked = {site.path for entry in entries.values() for site in entry.sites if not site.in_library}
    for path in sorted(linked):
        generated[source_page(path)] = render_source(path, repo)
    return generated


def _write_with_gen_files() -> None:
    import mkdocs_gen_files

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as handle:
            handle.write(text)


if __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy.run_path
    _write_with_gen_files()
elif __name__ == "__main__":
    print(render_paper_map(collect(), figure_ids()), end="")
