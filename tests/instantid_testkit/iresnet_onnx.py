"""A recognizer with glintr100's architecture (insightface's IResNet: BN-conv-BN-PReLU-conv-BN blocks, FC 512·7·7
→ 512, BatchNorm on the features), random weights, exported to ONNX with glintr100's input name and shape.

``blocks=(3, 13, 30, 3)`` is IResNet-100, glintr100 itself (65.2 M parameters, a 260 MB file like the published
one; the export takes minutes on 2 cores: the benchmarks use it). The tests use ``(1, 1, 1, 1)``: the same layers,
input, output and preprocessing path in a few MB.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

GLINTR100_BLOCKS = (3, 13, 30, 3)


class _Block(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(inplanes), nn.Conv2d(inplanes, planes, 3, 1, 1, bias=False)
        self.bn2, self.prelu = nn.BatchNorm2d(planes), nn.PReLU(planes)
        self.conv2, self.bn3 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.down = None if stride == 1 and inplanes == planes else nn.Sequential(
            nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.down is None else self.down(x))


class IResNet(nn.Module):
    def __init__(self, blocks=GLINTR100_BLOCKS):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        layers, inplanes = [], 64
        for count, planes in zip(blocks, (64, 128, 256, 512)):
            layers.append(_Block(inplanes, planes, 2))
            layers += [_Block(planes, planes, 1) for _ in range(count - 1)]
            inplanes = planes
        self.layers = nn.Sequential(*layers)
        self.bn2, self.fc, self.features = nn.BatchNorm2d(512), nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512)

    def forward(self, x):
        return self.features(self.fc(torch.flatten(self.bn2(self.layers(self.stem(x))), 1)))


def make_iresnet_recognizer(path: Path, blocks=GLINTR100_BLOCKS, seed: int = 0) -> int:
    """Write the ONNX file; returns the parameter count."""
    torch.manual_seed(seed)
    model = IResNet(blocks).eval()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, 112, 112), str(path), input_names=["input.1"],
                          output_names=["fc1"], dynamic_axes={"input.1": {0: "N"}, "fc1": {0: "N"}},
                          opset_version=13, dynamo=False)
    return sum(p.numel() for p in model.parameters())
