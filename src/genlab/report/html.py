"""Self-contained HTML pieces: images as data: URIs, inline CSS, no scripts, nothing fetched."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1280px;
color:#222;padding:0 16px;line-height:1.4}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:3px;
margin-top:28px}h3{font-size:1em;margin:14px 0 4px}.sub{color:#666;font-size:.9em}
table{border-collapse:collapse;font-size:.85em;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:8px;font-size:.8em;overflow:auto;max-height:420px}
figure{display:inline-block;margin:6px 10px 10px 0;vertical-align:top}figcaption{font-size:.8em;color:#444;
max-width:640px}img{max-width:100%;image-rendering:pixelated;border:1px solid #eee}
.row{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.cmd{font-family:monospace;font-size:.8em;
color:#555}.kv td:first-child{color:#555}
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def fmt(value: Any) -> str:
    """How a metric value is shown (the tests look for exactly this text)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def file_uri(path: Path) -> str:
    return data_uri(Path(path).read_bytes(), MIME.get(Path(path).suffix.lower(), "application/octet-stream"))


def figure(uri: str, caption: str = "", *, alt: str = "", width: int | None = None, cmd: str = "") -> str:
    """An embedded picture with a caption (and the command that made it). `width` caps the figure's width
    (pictures keep their natural size below it)."""
    w = f' style="max-width:{width}px"' if width else ""
    cap = esc(caption) + (f'<br><span class="cmd">{esc(cmd)}</span>' if cmd else "")
    return (f'<figure{w}><img src="{uri}" alt="{esc(alt or caption)}">'
            + (f"<figcaption>{cap}</figcaption>" if cap else "") + "</figure>")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = "".join(f'<td class="num">{esc(fmt(v))}</td>' if isinstance(v, (int, float)) and not isinstance(v, bool)
                        else f"<td>{esc(fmt(v))}</td>" for v in r)
        body.append(f"<tr>{cells}</tr>")
    return f"<table{c}><tr>{head}</tr>{''.join(body)}</table>"


def page(title: str, body: Sequence[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def flatten(d: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested values -> [(dotted key, value)], leaving out every "protocol" sub-dict."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k == "protocol":
            continue
        if isinstance(v, dict):
            out += flatten(v, key + ".")
        else:
            out.append((key, v))
    return out

