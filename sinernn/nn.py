"""The fused cell as an ``nn.Module``, for users' own training loops: their loss, any
``torch.optim`` optimizer, their truncation window.

    model = sinernn.nn.ElmanRNN(input_size=1, hidden_size=6, output_size=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    pred, hidden = model(x, h0)          # x (L, F), h0 (H,) or None -> (L, O), (L, H)
    loss = ((pred - y) ** 2).sum() / 2; loss.backward(); opt.step()

Parameters: ``w1`` (F+H, H) and ``w2`` (H, O), the tutorial's layout (no biases). ``from_torch`` /
``to_torch`` convert from / to ``nn.RNNCell(bias=False)`` + ``nn.Linear(bias=False)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import _extension, reference
from .data import init_weights


class ElmanRNN(nn.Module):
    """The tutorial's Elman network: hidden[t] = tanh([x_t, hidden[t-1]] @ w1), pred[t] = hidden[t] @ w2.

    ``fused=True`` runs the native seq_forward op (backward: the native seq_backward op, through
    all L steps); ``fused=False`` the same math in plain torch ops (the reference, autograd), also
    what runs on devices without native kernels.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 6, output_size: int = 1, *, seed: int | None = 0,
                 dtype: torch.dtype = torch.float32, fused: bool = True):
        super().__init__()
        w1, w2 = init_weights(input_size, hidden_size, output_size, seed=seed, dtype=dtype)
        self.w1 = nn.Parameter(w1)
        self.w2 = nn.Parameter(w2)
        self.fused = fused
        if fused:
            _extension.load()  # here, not in forward: torch.compile traces forward

    @property
    def hidden_size(self) -> int:
        return self.w1.shape[1]

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (L, F), h0 (H,) (default zeros) -> predictions (L, O), hidden states (L, H).
        Pass ``hidden[-1].detach()`` as the next call's h0 for truncated backpropagation."""
        if h0 is None:
            h0 = x.new_zeros(self.hidden_size)
        if self.fused and x.device.type == "cpu":
            return torch.ops.sinernn.seq_forward.default(x, h0, self.w1, self.w2)
        return reference.run_sequence(x, h0, self.w1, self.w2)

    @classmethod
    def from_torch(cls, cell: nn.RNNCell, linear: nn.Linear, fused: bool = True) -> "ElmanRNN":
        """From ``nn.RNNCell(F, H, bias=False, nonlinearity="tanh")`` and ``nn.Linear(H, O, bias=False)``:
        w1 = [weight_ih^T; weight_hh^T], w2 = linear.weight^T."""
        if cell.bias or linear.bias is not None or cell.nonlinearity != "tanh":
            raise ValueError("the cell must be nn.RNNCell(..., bias=False, nonlinearity='tanh') and the linear layer bias=False")
        F, H, O = cell.input_size, cell.hidden_size, linear.out_features
        if linear.in_features != H:
            raise ValueError(f"linear.in_features must be the cell's hidden size {H}, got {linear.in_features}")
        model = cls(F, H, O, seed=None, dtype=cell.weight_ih.dtype, fused=fused)
        with torch.no_grad():
            model.w1.copy_(torch.cat([cell.weight_ih.t(), cell.weight_hh.t()]))
            model.w2.copy_(linear.weight.t())
        return model

    def to_torch(self) -> tuple[nn.RNNCell, nn.Linear]:
        """The same network as ``nn.RNNCell(bias=False)`` + ``nn.Linear(bias=False)``."""
        F, H, O = self.w1.shape[0] - self.hidden_size, self.hidden_size, self.w2.shape[1]
        cell = nn.RNNCell(F, H, bias=False, dtype=self.w1.dtype)
        linear = nn.Linear(H, O, bias=False, dtype=self.w1.dtype)
        with torch.no_grad():
            cell.weight_ih.copy_(self.w1[:F].t())
            cell.weight_hh.copy_(self.w1[F:].t())
            linear.weight.copy_(self.w2.t())
        return cell, linear
