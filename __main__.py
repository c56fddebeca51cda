"""Command line: `python <this folder> run WORKFLOW.json --face me.jpg --prompt "…" --out out.png`, `doctor`,
`download`, `migrate`. The work is in runner/ (see runner/cli.py), imported as the package ComfyUI makes of this
folder (runner/pack_import.py), so a module of the pack is one module in this process whoever imports it."""
import importlib
import importlib.util
import sys
from pathlib import Path

PACK = Path(__file__).resolve().parent
# Python put this folder first on the import path, where its nodes/ would shadow ComfyUI's `nodes` module
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != PACK]
_spec = importlib.util.spec_from_file_location("instantid_pack_import", PACK / "runner" / "pack_import.py")
pack_import = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = pack_import
_spec.loader.exec_module(pack_import)
main = importlib.import_module(pack_import.register_pack(PACK) + ".runner.cli").main

if __name__ == "__main__":
    sys.exit(main())
