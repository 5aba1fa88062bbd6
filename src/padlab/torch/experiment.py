"""The Red-Green experiment of Kayhan & van Gemert (CVPR 2020): can a CNN learn absolute position?

Black 32x32 images hold two 4x4 boxes side by side. Class 0: red left of green, in the top band;
class 1: green left of red, in the bottom band. On the usual ("similar") test set the classes
sit where they were trained; on the "dissimilar" test set each class sits in the other band. A
network that reads the colour order scores well on both; a network that learned *where* the
boxes are (which it can only know from the image border, through the padding) collapses on the
dissimilar set.

The network: four 3x3 convolutions without bias (32, 32, 64, 64 channels; strides 1, 2, 2, 2),
ReLU, global max pooling, a linear layer to 2 classes, trained with Adadelta (lr 1, weight
decay 5e-5, batches of 200) with early stopping on the validation accuracy. One network per
padding rule and seed, every convolution a :class:`padlab.torch.PaddedConv2d`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from padlab._files import atomic_directory
from padlab.torch.layers import PaddedConv2d

__all__ = ["VARIANTS", "ExperimentResult", "make_dataset", "position_experiment", "red_green_net"]

#: (name shown, padding rule, padding per side)
VARIANTS = (
    ("valid", "zeros", 0),
    ("zeros same", "zeros", 1),
    ("zeros full", "zeros", 2),
    ("circular", "circular", 1),
    ("reflect", "reflect", 1),
    ("replicate", "replicate", 1),
    ("symmetric", "symmetric", 1),
    ("partial", "partial", 1),
)

_RED = (1.0, 0.0, 0.0)
_GREEN = (0.0, 1.0, 0.0)


def make_dataset(
    count: int, seed: int, *, dissimilar: bool = False, size: int = 32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, size, size) and labels (N,) of the Red-Green task.

    Class 0 is red then green in the top band (box rows centred near 7), class 1 green then red
    in the bottom band (near 23); ``dissimilar`` swaps the bands. Box columns and the gap are
    random; rows jitter by up to 4 pixels.

    Examples
    --------
    >>> x, y = make_dataset(4, 0)
    >>> x.shape, y.tolist()
    (torch.Size([4, 3, 32, 32]), [0, 1, 0, 1])
    >>> float(x[0, 0].sum()), float(x[0, 1].sum())  # one red and one green 4x4 box
    (16.0, 16.0)
    """
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 3, size, size), dtype=np.float32)
    labels = np.arange(count) % 2
    for i, label in enumerate(labels):
        top_band = (label == 0) != dissimilar
        centre = 7 if top_band else size - 9
        y = int(centre + rng.integers(-4, 5)) - 2
        y = min(max(y, 0), size - 4)
        gap = int(rng.integers(0, 5))
        x = int(rng.integers(0, size - 8 - gap + 1))
        first, second = (_RED, _GREEN) if label == 0 else (_GREEN, _RED)
        images[i, :, y : y + 4, x : x + 4] = np.array(first, dtype=np.float32)[:, None, None]
        x2 = x + 4 + gap
        images[i, :, y : y + 4, x2 : x2 + 4] = np.array(second, dtype=np.float32)[:, None, None]
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def red_green_net(rule: str, padding: int) -> nn.Module:
    """The experiment's network with every convolution padded by ``rule``.

    Examples
    --------
    >>> import torch
    >>> red_green_net("symmetric", 1)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 2])
    """
    channels = (3, 32, 32, 64, 64)
    strides = (1, 2, 2, 2)
    layers: list[nn.Module] = []
    for cin, cout, stride in zip(channels[:-1], channels[1:], strides, strict=True):
        layers += [PaddedConv2d(cin, cout, 3, stride, padding, bias=False, padding_mode=rule),
                   nn.ReLU()]  # fmt: skip
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 2)]
    return nn.Sequential(*layers)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def _train(rule: str, padding: int, seed: int, data: dict, epochs: int, patience: int):
    torch.manual_seed(seed)
    model = red_green_net(rule, padding)
    optimiser = torch.optim.Adadelta(model.parameters(), lr=1.0, weight_decay=5e-5)
    x, y = data["train"]
    order = torch.Generator().manual_seed(seed)
    best, best_state, waited, ran = -1.0, None, 0, 0
    for _ in range(epochs):
        ran += 1
        model.train()
        for batch in torch.randperm(len(x), generator=order).split(200):
            optimiser.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
        score = _accuracy(model, *data["val"])
        if score > best:
            best, waited = score, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    return (
        _accuracy(model, *data["similar"]),
        _accuracy(model, *data["dissimilar"]),
        ran,
    )


@dataclass(frozen=True)
class ExperimentResult:
    """Accuracy per variant over seeds, with the configuration that produced it."""

    variants: list[dict[str, object]]
    config: dict[str, object]
    seconds: float

    def table(self) -> str:
        """Mean and standard deviation over seeds, as a terminal table."""
        lines = [
            f"{'padding':12s} {'similar test':>16s} {'dissimilar test':>18s}  (accuracy, "
            f"mean ± std over {self.config['seeds']} seed(s))"
        ]
        for v in self.variants:
            lines.append(f"{v['name']:12s} {_pm(v['similar']):>16s} {_pm(v['dissimilar']):>18s}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _pm(values: list[float]) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:5.1f} ± {100 * spread:4.1f}%"


def position_experiment(
    *,
    seeds: int = 3,
    epochs: int = 50,
    patience: int = 8,
    train: int = 2000,
    val: int = 1000,
    test: int = 1000,
    variants: tuple[tuple[str, str, int], ...] = VARIANTS,
    progress: Callable[[str], None] | None = None,
) -> ExperimentResult:
    """Train the Red-Green network once per padding variant and seed; measure both test sets.

    Parameters
    ----------
    seeds : int
        Networks per variant (different initialisations and batch orders; same data).
    epochs, patience : int
        At most ``epochs``; stop after ``patience`` epochs without a better validation score.
    train, val, test : int
        Dataset sizes (the paper: 2000 / 1000 / 1000; the dissimilar set has ``test`` images).
    variants : tuple
        ``(name, rule, padding)`` triples; see :data:`VARIANTS`.
    progress : callable, optional
        Called with a line after every network.

    Returns
    -------
    ExperimentResult
    """
    started = time.perf_counter()
    data = {
        "train": make_dataset(train, 1),
        "val": make_dataset(val, 2),
        "similar": make_dataset(test, 3),
        "dissimilar": make_dataset(test, 4, dissimilar=True),
    }
    rows = []
    for name, rule, padding in variants:
        similar, dissimilar, ran = [], [], []
        for seed in range(seeds):
            s, d, n = _train(rule, padding, seed, data, epochs, patience)
            similar.append(s)
            dissimilar.append(d)
            ran.append(n)
            if progress:
                progress(
                    f"{name} seed {seed}: similar {100 * s:.1f}%, dissimilar {100 * d:.1f}% "
                    f"({n} epochs, {time.perf_counter() - started:.0f} s)"
                )
        rows.append(
            {
                "name": name,
                "rule": rule,
                "padding": padding,
                "similar": similar,
                "dissimilar": dissimilar,
                "epochs": ran,
            }
        )
    config = {"seeds": seeds, "epochs": epochs, "patience": patience, "train": train,
              "val": val, "test": test, "torch": torch.__version__,
              "threads": torch.get_num_threads()}  # fmt: skip
    return ExperimentResult(rows, config, time.perf_counter() - started)


def plot(result: ExperimentResult):
    """Bar chart: accuracy on the similar and dissimilar test sets per variant, ±1 std."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = [v["name"] for v in result.variants]
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    xs = np.arange(len(names))
    for offset, key, colour in ((-0.18, "similar", "#4c72b0"), (0.18, "dissimilar", "#dd8452")):
        means = [statistics.fmean(v[key]) for v in result.variants]
        spread = [statistics.stdev(v[key]) if len(v[key]) > 1 else 0 for v in result.variants]
        ax.bar(xs + offset, means, 0.36, yerr=spread, capsize=3, color=colour, label=f"{key} test")
        if key == "dissimilar":  # the number that matters, printed above its error bar
            for x, mean, sd in zip(xs + offset, means, spread, strict=True):
                y = min(mean + sd, 1.0) + 0.015
                ax.text(x, y, f"{100 * mean:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.axhline(0.5, ls=":", color="gray", lw=1)
    ax.text(1.005, 0.5, "chance", color="gray", va="center", fontsize=8,
            transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set_xticks(xs, names, rotation=20)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    ax.set_title(
        f"Red-Green: same boxes, other band (mean ± std over {result.config['seeds']} seeds)"
    )
    fig.legend(loc="outside right upper")
    return fig


def save(result: ExperimentResult, directory: str | Path) -> Path:
    """Write results.json, table.txt and accuracy.png to ``directory``.

    The files are written to a temporary directory beside it, which then replaces
    ``directory``: an interrupted run never leaves half of a result behind.
    """
    import matplotlib.pyplot as plt

    out = Path(directory)
    with atomic_directory(out) as work:  # checks the directory first
        (work / "results.json").write_text(json.dumps(result.to_dict(), indent=2))
        (work / "table.txt").write_text(result.table() + "\n")
        fig = plot(result)
        fig.savefig(work / "accuracy.png", dpi=110)
        plt.close(fig)
    return out
