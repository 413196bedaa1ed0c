"""Benchmarks for stargan-rt: every inference path in one run, against the PyTorch FP32 baseline and the
hardware floor.

    floor.py      FLOPs and bytes per image from the layer list; the machine's measured peaks
    timing.py     warm-up, time-budgeted repetition, percentiles, CUDA-event timing, PSNR
    variants.py   the paths to measure (backend x precision x device) and how each is built
    generator.py  the generator table: batch x resolution x path, ratio and PSNR against the baseline
    pipeline.py   the streaming pipeline on a video file: FPS, latency, stages, drops
    machine.py    the machine the numbers came from (CPU, GPU, libraries, commit) and how busy it was
    goals.py      the project's goals judged from the rows: met / gap / not measured
    report.py     JSON, Markdown, PNG plots, the short summary, merging reports
    cli.py        `stargan-rt bench` and `python -m benchmarks`
    gpu_check.sh  the GPU check: tests and GPU benchmarks on a CUDA machine, offline, in under 8 minutes

Nothing here imports torch at import time; each measurement imports what it needs.
"""
