"""``correlation.html``: the markdown report as one self-contained HTML page, figures inline as base64 PNG.

Only the markdown that :mod:`xstilts.report.markdown` writes is supported (headings, pipe tables, "- " lists,
paragraphs, images on their own line, ``<details>``/``<summary>`` lines, inline code, bold and italic), so the HTML
and the markdown always carry the same text. Every piece of text is HTML-escaped; the output is deterministic.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping

IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)$")
RAW = re.compile(r"^(<details><summary>(?P<summary>[^<]*)</summary>|</details>)$")
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; vertical-align: top; }
th { background: #f2f2f2; }
td.r, th.r { text-align: right; }
code { background: #f5f5f5; padding: 0 0.2em; font-size: 0.9em; }
img { max-width: 100%; }
figure { margin: 1em 0; }
figcaption { font-size: 0.85em; color: #555; }
""".strip()


def inline(text: str) -> str:
    """Escape ``text`` and render inline code, **bold** and *italic*."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced backtick: keep it literal
        parts = [text]
    out = []
    for i, part in enumerate(parts):
        esc = html.escape(part, quote=False)
        if i % 2:
            out.append(f"<code>{esc}</code>")
            continue
        esc = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", esc)
        esc = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", esc)
        out.append(esc)
    return "".join(out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    header, rule, body = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    align = ["r" if r.endswith(":") else "l" for r in rule]

    def row(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f'<{tag} class="{align[i] if i < len(align) else "l"}">{inline(c)}</{tag}>'
                                for i, c in enumerate(cells)) + "</tr>"

    return ("<table>\n<thead>" + row(header, "th") + "</thead>\n<tbody>\n"
            + "\n".join(row(b, "td") for b in body) + "\n</tbody>\n</table>")


def _image(alt: str, src: str, images: Mapping[str, bytes]) -> str:
    if src not in images:
        raise ValueError(f"correlation.md refers to image {src!r}, which was not rendered")
    data = base64.b64encode(images[src]).decode("ascii")
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(alt)} ({html.escape(src)})</figcaption></figure>")


def to_html(markdown: str, images: Mapping[str, bytes]) -> str:
    """The body HTML of the report's markdown."""
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        heading = re.match(r"^(#{1,6}) (.*)$", line)
        if heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        raw = RAW.match(line.strip())
        if raw:
            summary = raw.group("summary")
            out.append("</details>" if summary is None
                       else f"<details><summary>{html.escape(summary)}</summary>")
            i += 1
            continue
        image = IMAGE.match(line.strip())
        if image:
            out.append(_image(image.group("alt"), image.group("src"), images))
            i += 1
            continue
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>\n" + "\n".join(items) + "\n</ul>")
            continue
        para = []
        while (i < len(lines) and lines[i].strip() and not lines[i].startswith(("|", "- ", "#"))
               and not RAW.match(lines[i].strip()) and not IMAGE.match(lines[i].strip())):
            para.append(lines[i])
            i += 1
        out.append(f"<p>{inline(' '.join(para))}</p>")
    return "\n".join(out)


def render(markdown: str, images: Mapping[str, bytes], title: str) -> str:
    """A complete, self-contained HTML document (no external resources)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n"
            + to_html(markdown, images) + "\n</body>\n</html>\n")
