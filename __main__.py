"""Command line: `python <this folder> run WORKFLOW.json --face me.jpg --prompt "…" --out out.png`, `doctor`,
`download`, `migrate`. The work is in runner/ (see runner/cli.py)."""
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parent
# Python put this folder first on sys.path, where its nodes/ would shadow ComfyUI's `nodes` module: move it last
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != PACK] + [str(PACK)]

from runner.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
