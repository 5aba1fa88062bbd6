"""PaddedConv2d against torch's own padded convolutions: forward and forward+backward.

Usage::

    python bench/torch_layers.py              # 32x64x56x56 -> 64, 3x3, median of 20
    python bench/torch_layers.py --repeats 5 --batch 4   # a quick look

One process; padlab and its peer are timed alternately (ours, peer, ours, peer, ...) so load
changes hit both; the median of each is reported with their ratio, the floor from issue 15, and
the load average (``os.getloadavg``, as ``uptime`` shows) before and after.

Floors: reflect/replicate/circular/zeros within 1.10x of ``nn.Conv2d(padding_mode=...)``;
symmetric within 1.3x of torch's reflect; partial within 1.5x of a zeros conv.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

from padlab.torch import PaddedConv2d

#: (padlab rule, torch peer's padding_mode, floor)
CASES = (
    ("zeros", "zeros", 1.10),
    ("reflect", "reflect", 1.10),
    ("replicate", "replicate", 1.10),
    ("circular", "circular", 1.10),
    ("symmetric", "reflect", 1.30),
    ("partial", "zeros", 1.50),
)


def _step(layer: nn.Module, x: torch.Tensor, backward: bool):
    if backward:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).sum().backward()
    else:
        with torch.no_grad():
            layer(x)


def compare(
    rule: str, peer_mode: str, x: torch.Tensor, channels: int, repeats: int, backward: bool
):
    torch.manual_seed(0)
    peer = nn.Conv2d(x.shape[1], channels, 3, padding=1, padding_mode=peer_mode)
    ours = PaddedConv2d(x.shape[1], channels, 3, padding=1, padding_mode=rule)
    ours.load_state_dict(peer.state_dict())
    x = x.clone().requires_grad_(backward)
    for layer in (ours, peer):  # warm up
        _step(layer, x, backward)
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for _ in range(repeats):
        for key, layer in (("ours", ours), ("peer", peer)):
            start = time.perf_counter()
            _step(layer, x, backward)
            times[key].append(time.perf_counter() - start)
    return statistics.median(times["ours"]), statistics.median(times["peer"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=56)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    x = torch.randn(args.batch, args.channels, args.size, args.size)
    load_before = os.getloadavg()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; input "
        f"{'x'.join(map(str, x.shape))} -> {args.channels}, 3x3, padding 1; median of "
        f"{args.repeats}, alternating"
    )
    print(f"{'rule':10s} {'peer':>16s} {'pass':>8s} {'padlab ms':>10s} {'peer ms':>9s} "
          f"{'ratio':>6s} {'floor':>6s}")  # fmt: skip
    ok = True
    for rule, peer_mode, floor in CASES:
        for backward in (False, True):
            ours, peer = compare(rule, peer_mode, x, args.channels, args.repeats, backward)
            ratio = ours / peer
            ok &= ratio <= floor
            print(
                f"{rule:10s} {'Conv2d ' + peer_mode:>16s} {'fwd+bwd' if backward else 'fwd':>8s} "
                f"{1e3 * ours:10.1f} {1e3 * peer:9.1f} {ratio:6.2f} {floor:6.2f}"
                + ("" if ratio <= floor else "  <- above the floor")
            )
    load_after = os.getloadavg()
    print(
        "load average (1, 5, 15 min): before "
        + " ".join(f"{v:.2f}" for v in load_before)
        + ", after "
        + " ".join(f"{v:.2f}" for v in load_after)
    )
    print("all within their floors" if ok else "some ratios above their floors")


if __name__ == "__main__":
    main()
