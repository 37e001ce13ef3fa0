#!/usr/bin/env python3
"""Check the relative links of the README and the book: every link to a file must name a file
that exists, every `#anchor` a heading (Markdown) or an id (HTML) of its target, and no link may
leave the repository (`../shared`, ...) or, from the book's sources, leave `docs/src` (mdBook
copies only that folder, so such a link breaks in the built book). External links (http:,
https:, mailto:) are not fetched. Exits 1 listing every broken link as FILE:LINE: LINK: WHY.

Usage: scripts/check-links.py [PATH...]   (default: README.md CHANGELOG.md docs/src docs/book)
A PATH is a Markdown file, an HTML file, or a folder searched for both.
"""
import html
import os
import re
import sys
import unicodedata

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
BOOK_SRC = os.path.join(ROOT, "docs", "src")
MD_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""")
HTML_ID = re.compile(r"""\sid\s*=\s*["']([^"']+)["']""")


def slug(heading):
    """The anchor mdBook (and GitHub) give a heading: lower case, punctuation dropped, spaces to
    dashes. Inline code and link markup are reduced to their text first."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in "LN":
            out.append(ch)
        elif ch == " ":
            out.append("-")
    return "".join(out)


def markdown_lines(path, keep_code=False):
    """(line number, text) of a Markdown file outside fenced code blocks, inline code removed
    unless `keep_code` (headings keep theirs: it is part of the anchor)."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            stripped = line.lstrip()
            if stripped.startswith("```") or stripped.startswith("~~~"):
                mark = stripped[:3]
                fence = None if fence == mark else (fence or mark)
                continue
            if fence is None:
                yield n, line if keep_code else re.sub(r"`[^`]*`", "", line)


ANCHORS = {}


def anchors_of(path):
    """Every anchor a link may name in a file: heading slugs (with mdBook's -1, -2 suffixes for
    repeats) of a Markdown file, the ids of an HTML file."""
    if path not in ANCHORS:
        found = set()
        if path.endswith(".md"):
            seen = {}
            for _, line in markdown_lines(path, keep_code=True):
                m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
                if m:
                    s = slug(m.group(2))
                    k = seen.get(s, 0)
                    found.add(s if k == 0 else f"{s}-{k}")
                    seen[s] = k + 1
        else:
            with open(path, encoding="utf-8", errors="replace") as f:
                found = {html.unescape(i) for i in HTML_ID.findall(f.read())}
        ANCHORS[path] = found
    return ANCHORS[path]


def links_of(path):
    """(line, link) of every link in a Markdown or HTML file."""
    if path.endswith(".md"):
        for n, line in markdown_lines(path):
            for m in MD_LINK.finditer(line):
                yield n, m.group(1)
    else:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                for m in HTML_LINK.finditer(line):
                    yield n, html.unescape(m.group(1))


def check_link(path, link):
    """Why a link of `path` is broken, or None."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I) or link.startswith("//"):
        return None
    if "shared/" in link.replace("\\", "/") and ".." in link:
        return "points outside the repository"
    target, _, anchor = link.partition("#")
    target = target.split("?")[0]
    here = os.path.dirname(path)
    dest = os.path.realpath(os.path.join(here, target)) if target else path
    if os.path.commonpath([dest, ROOT]) != ROOT:
        return "points outside the repository"
    if path.startswith(BOOK_SRC + os.sep) and os.path.commonpath([dest, BOOK_SRC]) != BOOK_SRC:
        return "leaves docs/src (mdBook copies only that folder)"
    if os.path.isdir(dest) and path.endswith(".html"):
        dest = os.path.join(dest, "index.html")
    if not os.path.exists(dest):
        return "no such file"
    if anchor and os.path.isfile(dest) and dest.endswith((".md", ".html")):
        if anchor not in anchors_of(dest):
            return f"no anchor #{anchor} in {os.path.relpath(dest, ROOT)}"
    return None


def files_under(paths):
    for p in paths:
        p = os.path.realpath(p)
        if os.path.isdir(p):
            for d, _, fs in os.walk(p):
                for f in sorted(fs):
                    if f.endswith((".md", ".html")):
                        yield os.path.join(d, f)
        elif os.path.isfile(p):
            yield p
        else:
            print(f"check-links: {p}: no such file or folder", file=sys.stderr)
            sys.exit(2)


def main(argv):
    paths = argv or [os.path.join(ROOT, p) for p in ["README.md", "CHANGELOG.md", "docs/src", "docs/book"]]
    paths = [p for p in paths if argv or os.path.exists(p)]
    broken, checked = [], 0
    for path in files_under(paths):
        # mdBook's own pages (search index, 404, print page) link to its theme, not to our files.
        if path.endswith(("404.html", "print.html", "toc.html")):
            continue
        for n, link in links_of(path):
            checked += 1
            why = check_link(path, link)
            if why:
                broken.append(f"{os.path.relpath(path, ROOT)}:{n}: {link}: {why}")
    for b in broken:
        print(b)
    print(f"check-links: {checked} links, {len(broken)} broken", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
