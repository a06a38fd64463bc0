"""What a binary loads: the DT_NEEDED tree, which library brings which, and the GMP allocator hook."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Binary:
    path: str
    needed: list[str] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)  # soname -> path, as ldd resolved it
    gmp_hook: bool = False  # references __gmp_set_memory_functions
    stg_gmp_alloc: bool = False  # carries the old RTS's stgAllocForGMP


@dataclass
class Linkage:
    binaries: dict[str, Binary] = field(default_factory=dict)
    needed: dict[str, list[str]] = field(default_factory=dict)  # library path -> its DT_NEEDED
    missing: list[str] = field(default_factory=list)  # binaries asked for that do not exist


def parse_inspect(text: str) -> Linkage:
    """Read images/scripts/inspect-build's output."""
    linkage = Linkage()
    current: Binary | None = None
    library: str | None = None
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "==" and len(words) == 3 and words[1] == "missing":
            linkage.missing.append(words[2])
            current = library = None
        elif words[0] == "==" and len(words) == 3 and words[1] == "object":
            path = words[2]
            if path.startswith("/") and ("/lib" in path):
                library, current = path, None
                linkage.needed.setdefault(path, [])
            else:
                current, library = linkage.binaries.setdefault(path, Binary(path)), None
        elif words[0] == "needed" and len(words) == 2:
            if current:
                current.needed.append(words[1])
            elif library:
                linkage.needed[library].append(words[1])
        elif words[0] == "resolved" and len(words) == 3 and current:
            current.resolved[words[1]] = words[2]
        elif words[0] == "gmp-hook" and current:
            current.gmp_hook = True
        elif words[0] == "stg-gmp-alloc" and current:
            current.stg_gmp_alloc = True
    return linkage


def parse_ldd(text: str) -> dict[str, dict[str, str]]:
    """`ldd` output of several binaries under '== NAME' headers: {binary: {soname: path}}."""
    result: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = result.setdefault(line[3:].strip(), {})
        elif current is not None:
            match = re.match(r"\s*(\S+) => (/\S+)", line)
            if match:
                current[match.group(1)] = match.group(2)
    return result


def from_ldd(text: str) -> Linkage:
    """A flat Linkage from plain ldd output: every library loaded, none with a known parent."""
    return Linkage({name: Binary(name, resolved=libs) for name, libs in parse_ldd(text).items()})


def loaded(binary: Binary) -> set[str]:
    """Sonames in the process: ldd's closure, or the walked DT_NEEDED tree."""
    return set(binary.resolved) | set(binary.needed)


def parents(linkage: Linkage, binary: Binary) -> dict[str, str]:
    """For each soname in the process, the object that first needs it (breadth first from the binary)."""
    brought: dict[str, str] = {}
    queue = deque((soname, binary.path) for soname in binary.needed)
    while queue:
        soname, parent = queue.popleft()
        if soname in brought:
            continue
        brought[soname] = parent
        path = binary.resolved.get(soname)
        for child in linkage.needed.get(path, []) if path else []:
            queue.append((child, soname))
    return brought


def chain(linkage: Linkage, binary: Binary, soname: str) -> list[str]:
    """binary -> ... -> soname: how a library gets into the process (just the soname when unknown)."""
    brought = parents(linkage, binary)
    if soname not in brought:
        return [soname]
    path = [soname]
    while path[-1] in brought and brought[path[-1]] != binary.path:
        path.append(brought[path[-1]])
    return [binary.path.rsplit("/", 1)[-1]] + list(reversed(path))
