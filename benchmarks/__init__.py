"""Benchmarks for stargan-rt: every inference path in one run, against the PyTorch FP32 baseline and the
hardware floor.

    floor.py      FLOPs and bytes per image from the layer list; the machine's measured peaks
    timing.py     warm-up, time-budgeted repetition, percentiles, CUDA-event timing, PSNR
    variants.py   the paths to measure (backend x precision x device) and how each is built
    generator.py  the generator table: batch x resolution x path, ratio and PSNR against the baseline
    pipeline.py   the streaming pipeline on a video file: FPS, latency, stages, drops
    report.py     machine description, JSON, Markdown, PNG plots, goals met / gap
    cli.py        `stargan-rt bench` and `python -m benchmarks`

Nothing here imports torch at import time; each measurement imports what it needs.
"""
