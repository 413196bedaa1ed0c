"""Export: small functions from artifact to artifact, each checked against the one before.

    bundle --to_onnx--> generator.onnx --frames--> generator_frames.onnx
                                      --fp16----> generator_fp16.onnx --tensorrt_engine--> generator_fp16.plan (+ .json)
                                      --int8----> generator_int8.onnx
                                      --triton--> Triton model repository

`pipeline.export_all` runs the chain for `stargan-rt export`; `check.py` compares any two artifacts.
Nothing here is imported by the runtime (stargan_rt/); what the runtime needs from export lives there
(stargan_rt.engine_meta).
"""
