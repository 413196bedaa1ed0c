"""Real-time streaming: sources (camera, file, URL, folder), sinks (window, file, folder, virtual camera),
live controls, and the three-thread pipeline with latest-frame hand-off and per-stage timings.

    from stargan_rt.stream import open_source, open_sink, run_stream, Controls
    report = run_stream(open_source("0"), translator, open_sink("window"), Controls(translator.labels, "Blond_Hair"))
    print(report.text())
"""

from .controls import HELP, Controls, draw_overlay
from .pipeline import Handoff, Packet, StreamReport, run_stream
from .sinks import (ImageFolderSink, Sink, TeeSink, VideoFileSink, VirtualCamSink, WindowSink, check_sink, gui_problem,
                    open_sink)
from .sources import CaptureSource, ImageFolderSource, Source, open_source

__all__ = [
    "HELP", "Controls", "draw_overlay", "Handoff", "Packet", "StreamReport", "run_stream", "ImageFolderSink", "Sink",
    "TeeSink", "VideoFileSink", "VirtualCamSink", "WindowSink", "check_sink", "gui_problem", "open_sink", "CaptureSource",
    "ImageFolderSource", "Source", "open_source",
]
