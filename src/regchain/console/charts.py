"""Inline SVG charts (no script, no external asset): ownership bars and a step line."""

from __future__ import annotations

import html

PALETTE = ["#2b6cb0", "#dd6b20", "#2f855a", "#c53030", "#6b46c1", "#975a16", "#b83280", "#0987a0", "#718096"]


def ownership(parts: list[tuple[str, int]], top: int = 10, other_label: str = "others") -> str:
    """Horizontal bars of the largest holders' shares (the rest summed as one bar)."""
    total = sum(u for _, u in parts) or 1
    shown = parts[:top]
    rest = sum(u for _, u in parts[top:])
    if rest:
        shown = shown + [(other_label, rest)]
    row, width, label_w = 22, 640, 220
    out = [f'<svg class="chart" role="img" width="{width}" height="{row * len(shown) + 8}" '
           f'viewBox="0 0 {width} {row * len(shown) + 8}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, units) in enumerate(shown):
        share = units / total
        y = 4 + i * row
        w = max(1, int((width - label_w - 70) * share))
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
                   f'{html.escape(str(label)[:28])}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row - 6}" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="12">{100 * share:.2f}%</text>')
    out.append("</svg>")
    return "".join(out)


def step_line(points: list[tuple[str, int]], title: str) -> str:
    """A step line of a count over dates (points: (date text, value)), with the first and last date."""
    if not points:
        return ""
    width, height, pad = 640, 180, 36
    n = len(points)
    top = max(v for _, v in points) or 1
    xs = [pad + (width - 2 * pad) * (i / max(1, n - 1)) for i in range(n)]
    ys = [height - pad - (height - 2 * pad) * (v / top) for _, v in points]
    path = f"M{xs[0]:.1f},{ys[0]:.1f}"
    for i in range(1, n):
        path += f" H{xs[i]:.1f} V{ys[i]:.1f}"
    return (f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{html.escape(title)}</title>'
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>'
            f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>'
            f'<path d="{path}" fill="none" stroke="#2b6cb0" stroke-width="2"/>'
            f'<text x="{pad - 4}" y="{pad + 4}" text-anchor="end" font-size="11">{top}</text>'
            f'<text x="{pad - 4}" y="{height - pad}" text-anchor="end" font-size="11">0</text>'
            f'<text x="{pad}" y="{height - pad + 16}" font-size="11">{html.escape(points[0][0])}</text>'
            f'<text x="{width - pad}" y="{height - pad + 16}" text-anchor="end" font-size="11">'
            f'{html.escape(points[-1][0])}</text></svg>')
