"""PP-LCNet in PyTorch, laid out as PaddleClas defines it.

Used by the test fixture generator (tests/fixtures/gen_models.py) to make
models with known weights, and meant to be usable for training as well:
nothing here is specific to ONNX export.

The network: a 3x3 stride-2 stem, then 13 depthwise-separable blocks
(depthwise kxk conv + BN + HardSwish, optional squeeze-excite, pointwise 1x1
conv + BN + HardSwish), then a head of global average pooling, an optional
1x1 "class expand" conv + HardSwish + dropout, and a fully connected layer.

Two head conventions exist in the wild and both are kept, because exported
models differ by them:
  * PaddleClas: the expand conv has no bias, and dropout is Paddle's
    "downscale_in_infer" (identity while training is not scaled; at inference
    the activations are multiplied by 1 - p).
  * timm: the expand conv has a bias, and dropout is the usual inverted
    dropout (identity at inference).

The "textline" stride variant is PaddleOCR's PP-LCNet_x0_25_textline_ori:
the stem has stride (1, 2), every down-sampling depthwise conv has stride
(2, 1), so text lines keep their width, and the head has no expand conv and
no dropout.
"""

import math

import torch
from torch import nn

# Per stage: [kernel, in_channels, out_channels, stride, use_se] at scale 1.
NET_CONFIG = {
    "blocks2": [[3, 16, 32, 1, False]],
    "blocks3": [[3, 32, 64, 2, False], [3, 64, 64, 1, False]],
    "blocks4": [[3, 64, 128, 2, False], [3, 128, 128, 1, False]],
    "blocks5": [[3, 128, 256, 2, False]] + [[5, 256, 256, 1, False]] * 5,
    "blocks6": [[5, 256, 512, 2, True], [5, 512, 512, 1, True]],
}
STAGES = ("blocks2", "blocks3", "blocks4", "blocks5", "blocks6")
STEM_CHANNELS = 16

# Stride of the stem and of each stage's down-sampling conv, as (h, w).
STRIDE_VARIANTS = {
    "default": {"stem": (2, 2), "down": (2, 2)},
    "textline": {"stem": (1, 2), "down": (2, 1)},
}


def make_divisible(v, divisor=8, min_value=None):
    """Round a channel count to a multiple of divisor, as PaddleClas does:
    to the nearest multiple, never below min_value (default divisor), and
    never more than 10% below v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvBNHardSwish(nn.Module):
    """conv (no bias) + BatchNorm + HardSwish, 'same' padding for odd k."""

    def __init__(self, cin, cout, k, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.Hardswish()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class SEModule(nn.Module):
    """Squeeze-excite: pool, 1x1 c -> c/4 + ReLU, 1x1 c/4 -> c + hardsigmoid,
    scale the input.  pool="avg" uses AdaptiveAvgPool2d (exports as
    GlobalAveragePool); pool="mean" uses x.mean((2, 3)) as timm writes it
    (exports as ReduceMean).  Both compute the same thing."""

    def __init__(self, channels, reduction=4, pool="avg"):
        super().__init__()
        if pool not in ("avg", "mean"):
            raise ValueError("SE pool must be 'avg' or 'mean', not %r" % (pool,))
        self.pool_kind = pool
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv2d(channels, channels // reduction, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels // reduction, channels, 1)
        # torch's hardsigmoid is relu6(x + 3) / 6: Paddle's slope 1/6, offset 0.5.
        self.hardsigmoid = nn.Hardsigmoid()

    def forward(self, x):
        if self.pool_kind == "mean":
            s = x.mean((2, 3), keepdim=True)
        else:
            s = self.avg_pool(x)
        s = self.hardsigmoid(self.conv2(self.relu(self.conv1(s))))
        return x * s


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, k, stride, use_se, se_pool="avg"):
        super().__init__()
        self.dw_conv = ConvBNHardSwish(cin, cin, k, stride=stride, groups=cin)
        self.se = SEModule(cin, pool=se_pool) if use_se else None
        self.pw_conv = ConvBNHardSwish(cin, cout, 1)

    def forward(self, x):
        x = self.dw_conv(x)
        if self.se is not None:
            x = self.se(x)
        return self.pw_conv(x)


class DownscaleDropout(nn.Module):
    """Paddle's dropout mode "downscale_in_infer": while training, zero with
    probability p and do not rescale; at inference, multiply by 1 - p."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.training:
            keep = (torch.rand_like(x) >= self.p).to(x.dtype)
            return x * keep
        return x * (1.0 - self.p)

    def extra_repr(self):
        return "p=%g" % self.p


class PPLCNet(nn.Module):
    """PP-LCNet.

    scale         width multiplier (PaddleClas ships 0.25 .. 2.5)
    class_num     size of the output
    class_expand  width of the 1x1 conv after pooling, or None for none
    expand_bias   give that conv a bias (timm) or not (PaddleClas)
    dropout_prob  dropout before the FC layer (only with class_expand)
    dropout_mode  "downscale_in_infer" (Paddle) or "upscale_in_train" (timm)
    stride        "default" or "textline" (see STRIDE_VARIANTS)
    se_pool       "avg" or "mean", how the SE modules pool (see SEModule)

    The textline variant implies class_expand=None.  Any input height and
    width work; the head pools globally.
    """

    def __init__(self, scale=1.0, class_num=1000, class_expand=1280, expand_bias=False,
                 dropout_prob=0.2, dropout_mode="downscale_in_infer", stride="default",
                 se_pool="avg"):
        super().__init__()
        if stride not in STRIDE_VARIANTS:
            raise ValueError("unknown stride variant %r" % (stride,))
        if dropout_mode not in ("downscale_in_infer", "upscale_in_train"):
            raise ValueError("unknown dropout mode %r" % (dropout_mode,))
        if stride == "textline":
            class_expand = None
        strides = STRIDE_VARIANTS[stride]
        self.scale = scale
        self.class_num = class_num
        self.class_expand = class_expand
        self.stride_variant = stride

        self.conv1 = ConvBNHardSwish(3, make_divisible(STEM_CHANNELS * scale), 3,
                                     stride=strides["stem"])
        for name in STAGES:
            blocks = []
            for k, cin, cout, s, se in NET_CONFIG[name]:
                blocks.append(DepthwiseSeparable(
                    make_divisible(cin * scale), make_divisible(cout * scale), k,
                    strides["down"] if s == 2 else (1, 1), se, se_pool=se_pool))
            setattr(self, name, nn.Sequential(*blocks))

        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        feat = make_divisible(NET_CONFIG["blocks6"][-1][2] * scale)
        if class_expand:
            self.last_conv = nn.Conv2d(feat, class_expand, 1, bias=expand_bias)
            self.hardswish = nn.Hardswish()
            if dropout_mode == "downscale_in_infer":
                self.dropout = DownscaleDropout(dropout_prob)
            else:
                self.dropout = nn.Dropout(dropout_prob)
            feat = class_expand
        else:
            self.last_conv = None
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(feat, class_num)
        self.num_features = feat

    def forward_features(self, x):
        x = self.conv1(x)
        for name in STAGES:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x):
        x = self.avg_pool(x)
        if self.last_conv is not None:
            x = self.dropout(self.hardswish(self.last_conv(x)))
        return self.fc(self.flatten(x))

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def batchnorms(self):
        """The BatchNorm layers in execution order."""
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d)]


def init_random(model, seed, calib=(2, 3, 224, 224), target_logit_std=3.0):
    """Give every parameter and BatchNorm statistic a deterministic random value.

    BN statistics away from the identity (mean != 0, variance != 1, gamma != 1,
    beta != 0) make BN folding in a consumer observable: a folding bug changes
    the outputs.  Convs get He-normal weights.  Statistics drawn blindly would
    let activations grow or vanish over 30 layers, so each BN's are drawn
    around what it sees on the calibration batch `calib` (a tensor, or a shape
    to fill with normal noise): running_mean = true mean + 0.2 std * N(0, 1),
    running_var = true variance * U(0.5, 2).  The batch should hold the kinds
    of input the model will be run on: inputs unlike it can end far from O(1).
    Finally the FC layer is scaled so that the logits on the calibration batch
    have standard deviation target_logit_std.

    Leaves the model in eval mode.  Returns {hardswish layer name: max |output|,
    "logits_absmax": ..., "logits_std": ...} on the calibration batch.
    """
    g = torch.Generator().manual_seed(seed)

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    model.eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g)
                               * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(uniform(m.bias.shape, -0.2, 0.2))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g)
                               / math.sqrt(m.in_features))
                m.bias.copy_(uniform(m.bias.shape, -0.5, 0.5))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(uniform(m.weight.shape, 0.7, 1.3))
                m.bias.copy_(uniform(m.bias.shape, -0.3, 0.3))

        x = calib if isinstance(calib, torch.Tensor) else torch.randn(calib, generator=g)

        def calibrate(bn, inp):
            t = inp[0]
            mean = t.mean((0, 2, 3))
            # Each sample's second moment about the common mean, averaged over
            # the samples geometrically, so that no one sample sets the scale
            # and crushes the others.
            m2 = ((t - mean[None, :, None, None]) ** 2).mean((2, 3))
            var = m2.clamp_min(1e-12).log().mean(0).exp()
            # A channel (nearly) constant here may vary on other inputs and
            # would then be amplified by 1/sqrt(var): floor it.
            var = torch.maximum(var, 0.1 * var.mean())
            bn.running_mean.copy_(mean + 0.2 * var.sqrt() * torch.randn(mean.shape, generator=g))
            bn.running_var.copy_(var * uniform(var.shape, 0.5, 2.0))

        # One pass: a pre-hook sets each BN's statistics just before it runs,
        # on inputs already shaped by the BNs before it.
        hooks = [bn.register_forward_pre_hook(calibrate) for bn in model.batchnorms()]
        model(x)
        for h in hooks:
            h.remove()

        std = float(model(x).std())
        if std > 0:
            model.fc.weight.mul_(target_logit_std / std)
            model.fc.bias.mul_(target_logit_std / std)

        stats = {}
        hooks = [m.register_forward_hook(
            lambda mod, inp, out, name=name: stats.__setitem__(name, float(out.abs().max())))
            for name, m in model.named_modules() if isinstance(m, nn.Hardswish)]
        out = model(x)
        for h in hooks:
            h.remove()
        stats["logits_absmax"] = float(out.abs().max())
        stats["logits_std"] = float(out.std())
    return stats
