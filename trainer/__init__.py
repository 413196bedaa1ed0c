"""The StarGAN trainer: data loading, the training loop, checkpoints, sample grids and official-checkpoint import.

Modules: config (TrainConfig + its CLI), data (CelebA / RaFD / custom CSV datasets), losses, checkpoint,
sampling (translation grids), meta (bundle descriptions), train (the loop), official (import-official), cli.
"""
