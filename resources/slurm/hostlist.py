"""Expand Slurm host lists such as ``gpu[01-02,04],cpu01``."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def expand_hostlist(text: str) -> list[str]:
    """Names in order; ``gpu[01-03]`` gives gpu01, gpu02, gpu03 (zero padding kept)."""
    names: list[str] = []
    for item in _split_top_level(text or ""):
        names.extend(_expand_item(item))
    return names


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    if current:
        items.append("".join(current))
    return [i.strip() for i in items if i.strip() and i.strip() != "(null)"]


def _expand_item(item: str) -> list[str]:
    start = item.find("[")
    if start < 0:
        return [item]
    end = item.index("]", start)
    prefix, body, rest = item[:start], item[start + 1 : end], item[end + 1 :]
    tails = _expand_item(rest) if rest else [""]
    out = []
    for part in body.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise ValueError(f"bad host range {part!r} in {item!r}")
        lo, hi = match.group(1), match.group(2) or match.group(1)
        width = len(lo)
        for n in range(int(lo), int(hi) + 1):
            out.extend(f"{prefix}{n:0{width}d}{tail}" for tail in tails)
    return out
