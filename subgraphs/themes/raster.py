"""A cleaned SVG drawn into PNG pixels by resvg, in a child process with bounded work: a few
filter primitives can keep resvg busy for minutes (feMorphology, feTurbulence's octaves, a chain
of wide blurs), which no size check foresees, so the child gets at most ``CPU_SECONDS`` of
processor and ``MEMORY_BYTES`` of memory, no environment, an empty working directory, and may
write no file. It loads no font (text is drawn only as paths) and, since the cleaner keeps only
``#fragment`` references, no other file.

Run as ``python -m subgraphs.themes.raster WIDTH HEIGHT`` with the SVG on standard input; it
imports nothing of the platform, so it starts in a few tens of milliseconds."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile

CPU_SECONDS = 2
# The wall-clock bound: the processor bound plus room for a busy machine.
WALL_SECONDS = 10
MEMORY_BYTES = 1024 * 1024 * 1024
_UNDRAWABLE = 2


class DrawingRefused(Exception):
    """resvg could not draw the SVG; ``too_costly`` when it ran out of time or memory."""

    def __init__(self, too_costly: bool) -> None:
        super().__init__("too costly to draw" if too_costly else "cannot be drawn")
        self.too_costly = too_costly


def drawn(document: bytes, width: int, height: int) -> bytes:
    """``document`` as PNG, scaled to fit ``width`` x ``height`` pixels."""
    with tempfile.TemporaryDirectory() as empty:
        try:
            done = subprocess.run(  # noqa: S603 - our own module, fixed arguments
                [sys.executable, "-I", "-m", __name__, str(width), str(height)],
                input=document,
                capture_output=True,
                timeout=WALL_SECONDS,
                env={},
                cwd=empty,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DrawingRefused(too_costly=True) from None
    if done.returncode != 0:
        # Killed by a signal (SIGXCPU, SIGKILL, SIGABRT when an allocation fails) or a
        # MemoryError: out of its bounds; exit 2: resvg refused the drawing.
        raise DrawingRefused(too_costly=done.returncode != _UNDRAWABLE)
    return done.stdout


def main() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    import resvg_py  # loaded under the limits

    width, height = int(sys.argv[1]), int(sys.argv[2])
    document = sys.stdin.buffer.read().decode()
    try:
        png = resvg_py.svg_to_bytes(
            svg_string=document, width=width, height=height, skip_system_fonts=True
        )
    except ValueError:
        sys.exit(_UNDRAWABLE)
    sys.stdout.buffer.write(png)


if __name__ == "__main__":
    main()
