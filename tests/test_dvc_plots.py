"""`dvc plots show` renders the pooled-degradation plots offline: the page set as `plots.html_template` in
`.dvc/config` inlines vega, vega-lite and vega-embed (the npm builds pinned in tests/plots_page.py) and declares
UTF-8; the plots of dvc.yaml use the custom template `.dvc/plots/degradation_vs_size.json` (log2 x axis, one
colour per intermediate task). The last tests run DVC itself on a copy of the files it reads, and, where a Chromium
is installed, let it run the page's JavaScript."""

from __future__ import annotations

import configparser
import csv
import hashlib
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from . import plots_page
from .conftest import REPO

TEMPLATE_DIR = REPO / ".dvc" / "plots"
CSV = "reports/plots/pooled_degradation.csv"
VEGA_PLOTS = ("pooled_degradation_vs_size", "pooled_relative_degradation_vs_size")


def _vega_plots() -> dict[str, dict]:
    plots = yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]
    return {name: spec for p in plots if isinstance(p, dict) for name, spec in p.items()}


class _Tags(HTMLParser):
    """Start tags with their attributes (script bodies are data to this parser, not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def _tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def _check_offline_page(text: str) -> None:
    """What both the template and DVC's output must satisfy: UTF-8 declared early, nothing loaded from elsewhere."""
    head = text.encode("utf-8")[:1024].decode("utf-8", "ignore").lower()
    assert '<meta charset="utf-8">' in head  # the HTML spec only honours it within the first 1024 bytes
    for tag, attrs in _tags(text):
        for attr in ("src", "href", "srcset", "data"):
            value = attrs.get(attr) or ""
            assert not re.match(r"\s*(https?:)?//", value, re.I), f"<{tag} {attr}={value!r}> loads from the network"
        if tag == "script":
            assert "src" not in attrs, f"<script src={attrs['src']!r}>: the page inlines its scripts"
        assert not (tag == "link" and (attrs.get("rel") or "").lower() in {"stylesheet", "preload", "modulepreload"})


def test_html_template_is_the_offline_page_in_dvc_config():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc" / "config")
    # DVC resolves a relative plots.html_template against the .dvc directory
    assert (REPO / ".dvc" / config["plots"]["html_template"]).resolve() == plots_page.PAGE
    text = plots_page.PAGE.read_text(encoding="utf-8")
    _check_offline_page(text)
    assert text.count("{plot_divs}") == 1
    # {scripts} is where DVC puts its CDN <script src> tags: the page must not have it
    assert "{scripts}" not in text


def test_page_inlines_the_pinned_npm_builds_with_their_licences():
    text = plots_page.PAGE.read_text(encoding="utf-8")
    found = plots_page.inlined(text)
    assert list(found) == [lib.package for lib in plots_page.LIBRARIES]  # vega, then vega-lite, then vega-embed
    for lib in plots_page.LIBRARIES:
        header, body = found[lib.package]
        assert hashlib.sha256(body.encode("utf-8")).hexdigest() == lib.sha256, f"{lib.package} was modified"
        assert header.startswith(f"{lib.package} {lib.version}: {lib.file} of the npm package")
        assert "BSD-3-Clause" in header and lib.copyright in header and plots_page.BSD_3_CLAUSE in header
        assert len(body) > 50_000  # the minified build itself, not a stub
    # the committed page is exactly what `python -m tests.plots_page` writes (no hand edits)
    assert text == plots_page.page({p: body for p, (_, body) in found.items()})
    notice = (TEMPLATE_DIR / "README.md").read_text(encoding="utf-8")
    for lib in plots_page.LIBRARIES:
        assert f"{lib.package}@{lib.version}" in notice and lib.sha256 in notice


def test_dvc_yaml_plots_use_the_log_axis_template_with_a_colour_per_task():
    plots = _vega_plots()
    header = next(csv.reader((REPO / CSV).open()))
    for name in VEGA_PLOTS:
        spec = plots[name]
        assert spec["x"] == "train_size" and spec["x"] in header
        assert list(spec["y"]) == [CSV] and spec["y"][CSV] in header
        assert (TEMPLATE_DIR / f"{spec['template']}.json").is_file()
    template = json.loads((TEMPLATE_DIR / "degradation_vs_size.json").read_text())
    enc = template["encoding"]
    assert enc["x"]["field"] == "<DVC_METRIC_X>" and enc["y"]["field"] == "<DVC_METRIC_Y>"
    assert enc["x"]["scale"]["type"] == "log" and enc["x"]["scale"]["base"] == 2
    assert enc["x"]["scale"]["zero"] is False
    assert enc["color"]["field"] == "arm" and enc["color"]["type"] == "nominal" and "arm" in header
    assert enc["color"].get("legend", {}) is not None  # a legend (vega-lite draws one unless legend is null)
    assert template["data"] == {"values": "<DVC_METRIC_DATA>"}


def _fields(node) -> set[str]:
    if isinstance(node, dict):
        out = {node["field"]} if isinstance(node.get("field"), str) else set()
        return out.union(*(_fields(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_fields(v) for v in node))
    return set()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """`dvc plots show` of the two vega plots, run by DVC on a copy of what it reads (the committed config)."""
    root = tmp_path_factory.mktemp("plots")
    for rel in ["dvc.yaml", "params.yaml", ".dvc/config", CSV,
                *(p.relative_to(REPO).as_posix() for p in TEMPLATE_DIR.iterdir() if p.is_file())]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    proc = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", *VEGA_PLOTS, "-o", "out"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / "out" / "index.html"


def test_dvc_plots_show_writes_an_offline_page_with_log_axes_and_colours(rendered):
    text = rendered.read_text(encoding="utf-8")
    _check_offline_page(text)
    assert "cdn.jsdelivr" not in text and "{plot_divs}" not in text and "{refresh_tag}" not in text
    specs = [json.loads(s) for s in re.findall(r"var spec = (\{.*\});\n", text)]
    assert len(specs) == len(VEGA_PLOTS)
    rows = list(csv.DictReader((REPO / CSV).open()))
    for spec, y in zip(specs, ("absolute", "relative")):
        assert spec["encoding"]["x"]["field"] == "train_size" and spec["encoding"]["x"]["scale"]["type"] == "log"
        assert spec["encoding"]["y"]["field"] == y
        assert spec["encoding"]["color"]["field"] == "arm"
        values = spec["data"]["values"]
        assert len(values) == len(rows) and {v["arm"] for v in values} == {r["arm"] for r in rows}
        missing = _fields(spec) - set(values[0])
        assert not missing, f"the template reads fields the data lacks: {sorted(missing)}"
        assert "<DVC_METRIC" not in json.dumps(spec)


def _chromium() -> str | None:
    return next((exe for name in ("chromium", "chromium-browser", "google-chrome") if (exe := shutil.which(name))),
                None)


def test_vega_draws_both_plots_in_a_browser_without_network(rendered):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium installed: the page's JavaScript is not run")
    # every host name fails to resolve: whatever draws the plots must be in the page
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000", "--dump-dom",
                           rendered.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    # vega-embed adds its class and vega draws into one canvas per plot
    assert dom.count('class="vega-embed') == len(VEGA_PLOTS), dom[-2000:]
    assert len(re.findall(r'<canvas[^>]*class="marks"', dom)) == len(VEGA_PLOTS)
    actions = re.findall(r'<a [^>]*>([^<]*)</a>', dom)
    assert "View Source" in actions and "Open in Vega Editor" not in actions  # the one action leaving the page
