"""The offline HTML page of `dvc plots show` (`.dvc/plots/offline.html`, set as `plots.html_template` in
`.dvc/config`): DVC's own page loads vega, vega-lite and vega-embed from a CDN; this one inlines the three
libraries, unmodified, each under its licence, and declares UTF-8. Not part of the package.

`python -m tests.plots_page` (from the repository root) rebuilds the page: it fetches the pinned npm packages with
`npm pack` (or reads the tarballs from `--from DIR`, offline), checks each file against the SHA-256 pinned here and
writes the page. Bumping a library: change its version and hash in `LIBRARIES`, rebuild, update
`.dvc/plots/README.md`."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / ".dvc" / "plots" / "offline.html"


class Library(NamedTuple):
    package: str
    version: str
    file: str  # inside the npm tarball's package/ folder
    sha256: str  # of that file, as npm publishes it
    copyright: str  # the copyright line of the package's LICENSE


LIBRARIES = (
    Library("vega", "5.33.1", "build/vega.min.js",
            "463f3db6a40b20e9747b4ed38f37ed0add508838f9141b1cf8366784b07b30c8",
            "Copyright (c) 2015-2023, University of Washington Interactive Data Lab"),
    Library("vega-lite", "5.23.0", "build/vega-lite.min.js",
            "58c27358e26f2d319cf62f45bc17a4c8362f08645001df2ec8d341eee4097c7f",
            "Copyright (c) 2015, University of Washington Interactive Data Lab."),
    Library("vega-embed", "6.29.0", "build/vega-embed.min.js",
            "12d02acfbe3ec59ef9a37dd4822a2e04e2961b5bbb671bbe661d2221715b99da",
            "Copyright (c) 2015, University of Washington Interactive Data Lab"),
)

BSD_3_CLAUSE = """All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its contributors
  may be used to endorse or promote products derived from this software
  without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT OWNER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE."""

# DVC fills {plot_divs} (one <div> per plot, each calling vegaEmbed) and {refresh_tag}; the page has no {scripts}:
# that placeholder is where DVC would put its CDN <script src=...> tags
HEAD = """<!DOCTYPE html>
<!-- dvc plots show page: rebuilt by `python -m tests.plots_page`, see .dvc/plots/README.md; do not edit -->
<html lang="en">
<head>
<meta charset="utf-8">
{refresh_tag}
<title>xstilts: dvc plots</title>
<style>
body { font-family: sans-serif; margin: 16px; }
table { border-spacing: 15px; }
</style>
"""

# vega-embed's "Open in Vega Editor" action posts the spec to a web page; the other actions stay
EMBED_DEFAULTS = """<script>
(function () {
  var embed = window.vegaEmbed;
  window.vegaEmbed = function (el, spec, opt) {
    return embed(el, spec, Object.assign({actions: {export: true, source: true, compiled: true, editor: false}},
                                         opt || {}));
  };
})();
</script>
"""

TAIL = """</head>
<body>
{plot_divs}
</body>
</html>
"""

SCRIPT_RE = re.compile(r"<script>\n/\*!\n(?P<header>.*?)\n\*/\n(?P<body>.*?)</script>\n", re.S)


def header(lib: Library) -> str:
    return (f"{lib.package} {lib.version}: {lib.file} of the npm package {lib.package}@{lib.version}, unmodified "
            f"after this comment (sha256 {lib.sha256}).\nBSD-3-Clause.\n\n{lib.copyright}\n{BSD_3_CLAUSE}")


def script(lib: Library, body: str) -> str:
    if "</script" in body.lower() or "*/" in header(lib):
        raise ValueError(f"{lib.package}: cannot be inlined in a <script> element as it is")
    return f"<script>\n/*!\n{header(lib)}\n*/\n{body}</script>\n"


def page(bodies: dict[str, str]) -> str:
    """The page with each library of `LIBRARIES` inlined (bodies: package -> the file's text)."""
    return HEAD + "".join(script(lib, bodies[lib.package]) for lib in LIBRARIES) + EMBED_DEFAULTS + TAIL


def inlined(text: str) -> dict[str, tuple[str, str]]:
    """package -> (licence comment, exact inlined file text) of every library script in a page."""
    out = {}
    for m in SCRIPT_RE.finditer(text):
        out[m.group("header").split(" ", 1)[0]] = (m.group("header"), m.group("body"))
    return out


def _from_tarball(tgz: Path, lib: Library) -> str:
    with tarfile.open(tgz) as tar:
        member = tar.extractfile(f"package/{lib.file}")
        if member is None:
            raise FileNotFoundError(f"{tgz}: no package/{lib.file}")
        data = member.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != lib.sha256:
        raise ValueError(f"{tgz.name}: {lib.file} has sha256 {digest}, expected {lib.sha256}")
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="").read()


def build(tarballs: Path | None = None, out: Path = PAGE) -> Path:
    """Write the page from the npm tarballs in `tarballs` (`<package>-<version>.tgz`), or from `npm pack`."""
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tarballs) if tarballs else Path(tmp)
        if tarballs is None:
            subprocess.run(["npm", "pack", "--silent", *(f"{lib.package}@{lib.version}" for lib in LIBRARIES)],
                           cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        bodies = {lib.package: _from_tarball(where / f"{lib.package}-{lib.version}.tgz", lib) for lib in LIBRARIES}
    out.write_text(page(bodies), encoding="utf-8", newline="")
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    src = Path(args[args.index("--from") + 1]) if "--from" in args else None
    print(f"wrote {build(src).relative_to(ROOT)}")
