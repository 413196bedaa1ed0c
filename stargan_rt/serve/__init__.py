"""Translation as a service: one ASGI app (app.py) over one Service (service.py), run by uvicorn on one machine
or by Ray Serve on a cluster (ray_app.py); live streams keep only each client's newest frame (live.py); a webcam
page with no build step (static/). `stargan-rt serve` (cli.py) is the command.

Nothing is imported here: the web stack (FastAPI, uvicorn, Ray) loads only when a server starts.
"""
