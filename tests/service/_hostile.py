"""Answers that try to make the voter's browser fetch something (for the markdown tests).

Each entry is ``(what it tries, the answer)``; every remote address in them is under
:data:`HOST`, so a browser test can tell a leaked request from the app's own. The first
five got past the old regular-expression sanitiser or are the classic image forms.
"""

from __future__ import annotations

#: The attacker's server (never reachable: a request to it is the failure).
HOST = "tracker.example"
U = f"http://{HOST}"

HOSTILE: tuple[tuple[str, str], ...] = (
    ("inline image", f"![pixel]({U}/1.png)"),
    ("reference image", f"See ![ref pixel][r] here.\n\n[r]: {U}/2.png"),
    ("image inside a link", f"[![linked pixel]({U}/3.png)]({U}/3)"),
    ("escaped backtick around an image", f"\\`![tick pixel]({U}/4.png)\\`"),
    ("fence with a backtick in its info", f"```x`y\n![fence pixel]({U}/5.png)\n```\n```"),
    ("angle-bracket image target", f"![angle pixel](<{U}/6.png> \"title\")"),
    ("collapsed reference image", f"![collapsed][]\n\n[collapsed]: {U}/7.png"),
    ("image in a list in a quote", f"> - item ![nested pixel]({U}/8.png)"),
    ("image in a table cell", f"| a | b |\n|---|---|\n| ![cell pixel]({U}/9.png) | x |"),
    ("image in a heading", f"# Title ![heading pixel]({U}/10.png)"),
    ("html img", f'<img src="{U}/11.png" onerror="alert(1)">'),
    ("html srcset", f'<img srcset="{U}/12.png 2x" src="x">'),
    ("css url()", f'<div style="background:url({U}/13.png)">styled</div>'),
    ("svg image", f'<svg><image href="{U}/14.png"/></svg>'),
    ("iframe", f'<iframe src="{U}/15"></iframe>'),
    ("picture source", f'<picture><source srcset="{U}/16.png"><img src="x"></picture>'),
    ("stylesheet link", f'<link rel="stylesheet" href="{U}/17.css">'),
    ("object and embed", f'<object data="{U}/18"></object><embed src="{U}/18e">'),
    ("video poster", f'<video poster="{U}/19.png" src="{U}/19.mp4"></video>'),
    ("inline html image", f'text <img src={U}/20.png> text'),
    ("html comment then image", f"<!-- c --><img src={U}/21.png>"),
    ("javascript link", f"[click](javascript:fetch('{U}/22'))"),
    ("javascript autolink", f"<javascript:fetch('{U}/23')>"),
    ("data svg image", "![svg](data:image/svg+xml;base64,"
     "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjwvc3ZnPg==)"),
    ("latex includegraphics", f"$\\includegraphics{{{U}/25.png}}$ and $$\\href{{{U}/25}}{{x}}$$"),
    ("streamlit directive", f":red[![red pixel]({U}/26.png)] :material/home:"),
    ("entity-encoded tag", f"&lt;img src={U}/27.png&gt; &#60;img src={U}/27b.png&#62;"),
    ("indented code then image", f"    code\n![after code]({U}/28.png)"),
)
