"""The committed Warcraft sample and the tiny training configuration the tests run on it."""

from __future__ import annotations

from pathlib import Path

from diffsolvers.experiments.warcraft_run import WarcraftConfig

#: ``datasets/warcraft_sample``: a few 12×12 maps in the real data's on-disk format.
SAMPLE = str(Path(__file__).resolve().parents[1] / "datasets" / "warcraft_sample")

#: One epoch on 40 / 10 / 10 sample maps, one thread, no progress bars: seconds per run.
TINY = WarcraftConfig(
    epochs=1,
    batch_size=20,
    milestones=(1,),
    data=SAMPLE,
    n_train=40,
    n_val=10,
    n_test=10,
    threads=1,
    progress=False,
)
