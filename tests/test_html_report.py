from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbsetup import batch, report, transform
from nbsetup.changes import WARNING_KINDS
from nbsetup.cli import main
from nbsetup.report.cells import CellChange, changed_cells
from nbsetup.report.html import file_href, left_reason, render_html
from nbsetup.report.html_assets import csp_hash
from nbsetup.transform import NO_PINS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Notebook text that must stay text in the page.
HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _notebook(*sources, language="python"):
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for source in sources
        ],
        "metadata": {"kernelspec": {"language": language, "name": "k", "display_name": "K"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def _write(path, notebook):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    return path


class _Page(HTMLParser):
    """The elements of a page: (tag, attributes) in order, and the text of each `id`."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.by_id = {}
        self.scripts = []
        self._open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        self._open.append((tag, attributes.get("id"), []))

    def handle_endtag(self, tag):
        while self._open:
            name, ident, text = self._open.pop()
            if ident is not None:
                self.by_id[ident] = "".join(text)
            if name == "script":
                self.scripts.append("".join(text))
            if self._open:
                self._open[-1][2].extend(text)
            if name == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)

    def tags(self, name):
        return [attributes for tag, attributes in self.elements if tag == name]


def _results(tmp_path, *notebooks, cells=True):
    """Fix (`--check`) the notebooks given as (name, notebook) and return the results."""
    paths = [_write(tmp_path / name, notebook) for name, notebook in notebooks]
    settings = batch.Settings(check=True, cells=cells)
    return [batch.process(path, settings) for path in paths]


def _document(results, **options):
    return json.loads(report.fix_json(results, report.RunOptions(check=True), **options))


# --- the changed cells ----------------------------------------------------------------------


def test_changed_cells_lists_new_rewritten_and_removed_cells_in_notebook_order():
    old = _notebook("import os", "!pip install a", "x = 1\n!pip install b", "print(x)")
    result = transform.hoist(old, NO_PINS)
    cells = changed_cells(old, result.notebook, result.origins)
    assert [(c.cell, c.original, c.environment) for c in cells] == [
        (1, None, True),
        (None, 2, False),
        (3, 3, False),
    ]
    assert cells[1].before == "!pip install a"
    assert cells[1].after is None
    assert cells[2].before == "x = 1\n!pip install b"
    assert "pip install" not in cells[2].after
    installs = [line for line in cells[0].after.splitlines() if "pip install" in line]
    assert {"a", "b"} <= {word for line in installs for word in line.split()}


def test_an_unchanged_notebook_has_no_changed_cells():
    old = _notebook("import os")
    result = transform.hoist(old, NO_PINS)
    assert changed_cells(old, result.notebook, result.origins) == ()


def test_cell_change_json_form():
    change = CellChange(1, None, True, None, "%pip install x\n")
    assert change.to_dict() == {
        "cell": 1,
        "original_cell": None,
        "environment": True,
        "before": None,
        "after": "%pip install x\n",
    }


# --- the JSON report stays as it was without --report-cells ---------------------------------


def test_json_report_has_cells_only_when_asked(tmp_path):
    notebooks = [("a.ipynb", _notebook("!pip install a", "import a")), ("b.ipynb", _notebook("1"))]
    plain = _results(tmp_path, *notebooks, cells=False)
    recorded = _results(tmp_path, *notebooks, cells=True)
    options = report.RunOptions(check=True)
    assert report.fix_json(recorded, options) == report.fix_json(plain, options)
    assert '"cells"' not in report.fix_json(plain, options)
    document = _document(recorded, cells=True)
    # One changed cell: the environment cell took the place of the install cell.
    assert [len(file["cells"]) for file in document["files"]] == [1, 0]
    assert [key for key in document["files"][0] if key != "cells"] == list(
        json.loads(report.fix_json(plain, options))["files"][0]
    )


def test_format_json_on_stdout_is_the_same_with_and_without_report_html(tmp_path, monkeypatch):
    _write(tmp_path / "a.ipynb", _notebook("!pip install a", "import a"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    plain = runner.invoke(main, ["fix", "--check", "--format", "json", "a.ipynb"])
    with_html = runner.invoke(
        main, ["fix", "--check", "--format", "json", "--report-html", "r.html", "a.ipynb"]
    )
    assert plain.exit_code == with_html.exit_code == 1
    assert plain.stdout == with_html.stdout
    assert "<!DOCTYPE html>" in (tmp_path / "r.html").read_text(encoding="utf-8")


# --- the page -------------------------------------------------------------------------------


def test_totals_and_every_notebook_are_on_the_page(tmp_path):
    results = _results(
        tmp_path,
        ("a.ipynb", _notebook("!pip install numpy", "import numpy")),
        ("b.ipynb", _notebook("if x:\n    !pip install pandas", "import pandas")),
        ("c.ipynb", _notebook("print(1)", language="R")),
        ("d.ipynb", _notebook("1")),
    )
    (tmp_path / "e.ipynb").write_text("{not json", encoding="utf-8")
    results.append(batch.process(tmp_path / "e.ipynb", batch.Settings(check=True)))
    document = _document(results, cells=True)
    page = _Page(render_html(document))
    summary = document["summary"]
    for key in ("changed", "unchanged", "skipped", "failed", "packages", "conflicts", "left"):
        assert page.by_id[f"total-{key}"] == str(summary[key]), key
    assert summary == {
        "changed": 1,
        "unchanged": 2,
        "skipped": 1,
        "failed": 1,
        "packages": 1,
        "conflicts": 0,
        "left": 1,
    }
    articles = [a for a in page.tags("article") if "nb" in a["class"].split()]
    assert sorted(a["data-path"] for a in articles) == sorted(f["path"] for f in document["files"])
    # Needs review first: the failed file, then the one with an install left in place.
    assert [Path(a["data-path"]).name for a in articles[:2]] == ["e.ipynb", "b.ipynb"]
    assert {Path(a["data-path"]).name: a["data-status"] for a in articles} == {
        "a.ipynb": "changed",
        "b.ipynb": "unchanged",
        "c.ipynb": "skipped",
        "d.ipynb": "unchanged",
        "e.ipynb": "failed",
    }
    tags = {Path(a["data-path"]).name: a["data-tags"].split("|") for a in articles}
    assert tags["b.ipynb"] == [
        "review",
        "left",
        "left:inside an if block",
    ]
    assert tags["e.ipynb"] == ["review", "failed"]
    reasons = [o["value"] for o in page.tags("option")]
    assert {
        "review",
        "left",
        "failed",
        "left:inside an if block",
    } <= set(reasons)


def test_changed_cells_are_shown_as_removed_and_added_lines(tmp_path):
    results = _results(tmp_path, ("a.ipynb", _notebook("x = 1\n!pip install numpy\ny = 2")))
    text = render_html(_document(results, cells=True))
    assert '<span class="del">- !pip install numpy</span>' in text
    assert "<span>  x = 1</span>" in text
    assert re.search(r'<span class="add">\+ !pip install [^<]*numpy</span>', text)


def test_notebook_text_stays_text(tmp_path):
    source = f"!pip install 'pkg' # {HOSTILE}\nprint('{HOSTILE}')"
    name = 'x"<b>.ipynb'
    results = _results(tmp_path, (name, _notebook(source)))
    text = render_html(_document(results, cells=True))
    page = _Page(text)
    assert len(page.tags("script")) == 1
    assert page.tags("img") == []
    assert page.tags("b") == []
    assert "window.pwned" not in page.scripts[0]
    assert "&lt;/script&gt;&lt;script&gt;window.pwned = 1&lt;/script&gt;" in text
    assert any(a.get("data-path", "").endswith(name) for a in page.tags("article"))


def test_the_page_loads_nothing_and_allows_only_its_own_style_and_script(tmp_path):
    results = _results(tmp_path, ("a.ipynb", _notebook("!pip install numpy", "import numpy")))
    text = render_html(_document(results, cells=True))
    page = _Page(text)
    (policy,) = [m["content"] for m in page.tags("meta") if m.get("http-equiv")]
    style = re.search(r"<style>(.*?)</style>", text, re.S).group(1)
    assert policy.startswith("default-src 'none';")
    assert f"style-src {csp_hash(style)};" in policy
    assert f"script-src {csp_hash(page.scripts[0])};" in policy
    assert not [attributes for _, attributes in page.elements if "src" in attributes]
    assert not [a for _, a in page.elements if "style" in a]  # the policy would block them
    for _, attributes in page.elements:
        href = attributes.get("href")
        # Only the page's own anchors and links to the files: a relative path or file://.
        assert href is None or not re.match(r"(?!file:)[a-z][a-z0-9+.-]*:|//", href), href


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("install not moved: inside an if block", "inside an if block"),
        (
            "install not moved: inside an if block (line 9 of a branch is not an install)",
            "inside an if block",
        ),
        ("install not moved: inside a try block (its condition reads `x`)", "inside a try block"),
        (
            "install not moved: inside an if block (uses the shell variable $BRANCH)",
            "inside an if block",
        ),
        ("install not moved: uses the shell variable $BRANCH", "uses a shell variable"),
        ("install not moved: uses the Python variable {_vllm}", "uses a Python variable"),
        ("install not moved: follows %cd at cell 3, line 2", "follows %cd"),
    ],
)
def test_left_reasons_are_grouped_without_their_names(message, reason):
    assert left_reason(message) == reason


@pytest.mark.parametrize(
    ("path", "root", "href"),
    [
        ("nbs/a b.ipynb", "", "nbs/a%20b.ipynb"),
        ("nbs/a.ipynb", "..", "../nbs/a.ipynb"),
        ("a#1?.ipynb", ".", "a%231%3F.ipynb"),
        ("/srv/nbs/a.ipynb", "..", "file:///srv/nbs/a.ipynb"),
        ("C:\\nbs\\a.ipynb", "", "file:///C:/nbs/a.ipynb"),
    ],
)
def test_file_links(path, root, href):
    assert file_href(path, root) == href


# --- the command line -----------------------------------------------------------------------


def test_report_command_renders_the_page_fix_writes(tmp_path, monkeypatch):
    _write(
        tmp_path / "nbs" / "a.ipynb", _notebook("import os\n!pip install numpy", "import numpy")
    )
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    fixed = runner.invoke(
        main,
        [
            *("fix", "-q", "--check", "--report-file", "r.json", "--report-cells"),
            *("--report-html", "out/fix.html", "nbs"),
        ],
    )
    assert fixed.exit_code == 1, fixed.stderr
    rendered = runner.invoke(main, ["report", "r.json", "-o", "out/report.html"])
    assert rendered.exit_code == 0, rendered.stderr
    assert rendered.stdout == ""
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page == (tmp_path / "out" / "fix.html").read_text(encoding="utf-8")
    assert 'href="../nbs/a.ipynb"' in page
    assert '<span class="del">- !pip install numpy</span>' in page
    on_stdout = runner.invoke(main, ["report", "r.json"])
    assert on_stdout.exit_code == 0
    assert 'href="nbs/a.ipynb"' in on_stdout.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "r.json: error: not valid JSON (line 1, column 2)"),
        ('{"schema": 2, "files": [], "summary": {}}', "not an nbsetup fix report of schema 1"),
        ("[]", "not an nbsetup fix report of schema 1"),
    ],
)
def test_report_command_refuses_what_is_not_a_fix_report(tmp_path, monkeypatch, content, reason):
    (tmp_path / "r.json").write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", "r.json", "-o", "r.html"])
    assert result.exit_code == 2
    assert reason in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_html_that_cannot_be_written_fails_the_run(tmp_path, monkeypatch):
    _write(tmp_path / "a.ipynb", _notebook("1"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["fix", "--report-html", "missing/r.html", "a.ipynb"])
    assert result.exit_code == 2
    assert "missing/r.html: error: cannot write the report" in result.stderr


def test_the_example_project_report(tmp_path, monkeypatch):
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["fix", "-q", "--check", "--report-html", "report.html", "examples"]
    )
    assert result.exit_code == 1, result.stderr
    page = _Page((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert page.by_id["total-changed"] == "1"
    (article,) = page.tags("article")
    assert article["data-path"] == os.path.join("examples", "sales", "sales.ipynb")
    assert article["data-status"] == "changed"


# --- in a real browser ----------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: Headless Chromium with nothing that reaches out by itself (updates, sync, QUIC probes).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1000",
)
#: The notebooks shown now (hidden ones, and those of a hidden group, have no layout box).
VISIBLE = (
    "return Array.from(document.querySelectorAll('article.nb'))"
    ".filter(a => a.offsetParent !== null).map(a => a.dataset.path)"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(
            "headless browser test: Debian's chromium and chromium-driver are not installed "
            "(apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # The driver's path is given, so selenium does not look for (or download) one itself.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _artifacts(tmp_path):
    """Where screenshots go: $NBSETUP_TEST_ARTIFACTS, else the test's own tmp directory."""
    directory = Path(os.environ.get("NBSETUP_TEST_ARTIFACTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _norm(text):
    """As the page's search compares package names and paths."""
    return re.sub(r"[-_.]+", "-", text.lower()).strip()


def _choose(browser, name, value):
    from selenium.webdriver.support.select import Select

    Select(browser.find_element("name", name)).select_by_value(value)
    return sorted(browser.execute_script(VISIBLE))


@pytest.mark.slow
def test_corpus_report_in_a_real_browser(corpus_copy, tmp_path, monkeypatch, browser):
    shutil.copytree(corpus_copy, tmp_path / "corpus")
    # Every status is on the page: a file that is not a notebook and an R notebook.
    (tmp_path / "corpus" / "broken.ipynb").write_text("{not json", encoding="utf-8")
    _write(tmp_path / "corpus" / "r.ipynb", _notebook("install.packages('x')", language="R"))
    monkeypatch.chdir(tmp_path)
    arguments = [
        "fix",
        "-q",
        "--check",
        "-j",
        "2",
        "--report-file",
        "report.json",
        "--report-cells",
    ]
    result = CliRunner().invoke(main, [*arguments, "--report-html", "report.html", "corpus"])
    assert result.exit_code == 2, result.stderr
    document = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    files, summary = document["files"], document["summary"]
    page = tmp_path / "report.html"
    size = page.stat().st_size
    print(f"corpus report: {len(files)} notebooks, {size} bytes of HTML")
    # The page is the report's data with little around it: smaller than the JSON it shows.
    assert size < (tmp_path / "report.json").stat().st_size

    browser.get(page.as_uri())
    assert browser.get_log("browser") == []  # no error, no blocked style or script
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert browser.execute_script("return document.querySelectorAll('[src]').length") == 0
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('[href]'), e => e.getAttribute('href'))"
    )
    assert not [h for h in hrefs if re.match(r"(?!file:)[a-z][a-z0-9+.-]*:|//", h)]

    def text(ident):
        return browser.find_element("id", ident).text

    for key in ("changed", "unchanged", "skipped", "failed", "packages", "conflicts", "left"):
        assert text(f"total-{key}") == str(summary[key]), key
    assert summary["failed"] == summary["skipped"] == 1
    kinds = [change["kind"] for file in files for change in file["changes"]]
    assert text("total-pinned") == str(kinds.count("pinned"))
    assert text("total-unpinned") == str(kinds.count("unpinned"))

    every = sorted(file["path"] for file in files)
    assert sorted(browser.execute_script(VISIBLE)) == every
    assert text("shown-count") == str(len(files))
    review = sorted(
        file["path"]
        for file in files
        if file["status"] == "failed" or any(c["kind"] in WARNING_KINDS for c in file["changes"])
    )
    in_review = browser.execute_script(
        "return Array.from(document.querySelectorAll('#group-review article.nb'),"
        " a => a.dataset.path)"
    )
    assert sorted(in_review) == review
    # The style sheet applies (its hash is right): a changed badge is blue.
    badge = "return getComputedStyle(document.querySelector('.badge.changed')).backgroundColor"
    assert browser.execute_script(badge) == "rgb(43, 108, 176)"

    for status in ("failed", "skipped", "unchanged"):
        expected = sorted(f["path"] for f in files if f["status"] == status)
        assert _choose(browser, "status", status) == expected, status
        assert text("shown-count") == str(len(expected))
    _choose(browser, "status", "")
    reason = "install not moved: inside an if block"
    expected = sorted(
        f["path"] for f in files if any(c["message"].startswith(reason) for c in f["changes"])
    )
    assert expected
    assert _choose(browser, "reason", "left:inside an if block") == expected
    assert _choose(browser, "reason", "") == every

    search = browser.find_element("name", "q")
    search.send_keys("Torch")
    expected = sorted(
        f["path"]
        for f in files
        if "torch" in _norm(f["path"])
        or any("torch" in _norm(c["package"] or "") for c in f["changes"])
    )
    assert 0 < len(expected) < len(files)
    assert sorted(browser.execute_script(VISIBLE)) == expected
    search.send_keys("\ue003" * len("Torch"))  # backspace, as a user empties the field
    assert sorted(browser.execute_script(VISIBLE)) == every

    browser.find_element("id", "expand").click()
    opened = "return document.querySelectorAll('article.nb details[open]').length"
    assert browser.execute_script(opened) == len(files)
    cells = sum(len(file["cells"]) for file in files)
    assert cells >= summary["changed"]  # each changed notebook has at least one changed cell
    assert browser.execute_script("return document.querySelectorAll('pre.diff').length") == cells
    browser.find_element("id", "collapse").click()
    assert browser.execute_script(opened) == 0
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0

    browser.execute_script("window.scrollTo(0, 0)")
    shot = _artifacts(tmp_path) / "corpus-report.png"
    assert browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


@pytest.mark.slow
def test_hostile_notebook_text_stays_text_in_a_real_browser(tmp_path, browser):
    source = f"!pip install 'pkg' # {HOSTILE}\nprint('{HOSTILE}')"
    results = _results(tmp_path, ("x.ipynb", _notebook(source)))
    page = tmp_path / "report.html"
    page.write_text(render_html(_document(results, cells=True)), encoding="utf-8")
    browser.get(page.as_uri())
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    assert browser.execute_script("return document.scripts.length") == 1
    diffs = browser.execute_script(
        "return Array.from(document.querySelectorAll('pre.diff'), e => e.textContent).join('')"
    )
    assert f"print('{HOSTILE}')" in diffs
    assert browser.get_log("browser") == []
