"""`python <pack> batch`: many people x many prompts through one workflow, resumable.

manifest.py   rows (CSV / JSONL / faces folder x prompts file x seeds) -> Job, or a row error
inputs.py     read each row's files once: content hashes, the resume key, image checks
state.py      the output folder: atomic PNG writes, results.jsonl (append-only), what is already done
prompts.py    Job -> API prompt (the runner's workflow handling and overrides, no second copy)
local.py      the default: one in-process ComfyUI executor, models loaded once (also what each Ray actor runs)
servers.py    running ComfyUI servers over their HTTP + WebSocket API, queues kept short, jobs of a dead server
              requeued
ray_pool.py   Ray Data actor pool, one in-process ComfyUI per actor (imported only with --ray)
progress.py   the progress line and the summary
run.py        ties them together: what to skip, order by person, write results, exit status
cli.py        the `batch` sub-command's options

Nothing here imports ComfyUI at import time (the server path never imports it at all).
"""
