"""The fused cell as an ``nn.Module``, for users' own training loops: their loss, any
``torch.optim`` optimizer, their truncation window, mini-batches.

    model = sinernn.nn.ElmanRNN(input_size=1, hidden_size=6, output_size=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    pred, hidden = model(x, h0)   # x (L, B, F), h0 (B, H) or (H,) or None -> (L, B, O), (L, B, H)
    loss = ((pred - y) ** 2).mean(); loss.backward(); opt.step()

Parameters: ``w1`` (F+H, H) and ``w2`` (H, O), the tutorial's layout; with ``bias=True`` also ``b1``
(H,) and ``b2`` (O,). ``from_torch`` / ``to_torch`` convert from / to ``nn.RNN`` or ``nn.RNNCell``
(one layer, tanh) + ``nn.Linear``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._native import ops
from .data import init_weights
from .engine import reference


class ElmanRNN(nn.Module):
    """The tutorial's Elman network over a batch of sequences:
    hidden[t] = tanh([x_t, hidden[t-1]] @ w1 + b1), pred[t] = hidden[t] @ w2 + b2.

    Shapes as torch.nn's recurrent layers: x (L, B, F) by default, (B, L, F) with
    ``batch_first=True``, or one unbatched sequence (L, F); h0 (B, H), (H,) (the same context for
    every sequence) or None (zeros). Returns predictions and hidden states in x's layout: (L, B, O)
    and (L, B, H) (or (B, L, .), or (L, .) unbatched).

    ``bias=False`` (default) is the tutorial's network; ``bias=True`` adds b1 (H,) to the hidden
    pre-activation (nn.RNN's b_ih + b_hh) and b2 (O,) to the output (nn.Linear's bias), both
    starting at zero. ``fused=True`` runs the native ops (cell_forward / cell_backward; an
    unbatched sequence without biases takes seq_forward / seq_backward, the tutorial's fused
    single-sequence code); ``fused=False`` the same math in plain torch ops (autograd), also what
    runs on devices without native kernels.
    """

    def __init__(self, input_size: int = 1, hidden_size: int = 6, output_size: int = 1, *, bias: bool = False,
                 batch_first: bool = False, seed: int | None = 0, dtype: torch.dtype = torch.float32,
                 fused: bool = True):
        super().__init__()
        w1, w2 = init_weights(input_size, hidden_size, output_size, seed=seed, dtype=dtype)
        self.w1 = nn.Parameter(w1)
        self.w2 = nn.Parameter(w2)
        if bias:
            self.b1 = nn.Parameter(torch.zeros(hidden_size, dtype=dtype))
            self.b2 = nn.Parameter(torch.zeros(output_size, dtype=dtype))
        else:
            self.register_parameter("b1", None)
            self.register_parameter("b2", None)
        self.batch_first = batch_first
        self.fused = fused
        if fused:
            ops.load()  # here, not in forward: torch.compile traces forward

    @property
    def input_size(self) -> int:
        return self.w1.shape[0] - self.w1.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.w1.shape[1]

    @property
    def output_size(self) -> int:
        return self.w2.shape[1]

    @property
    def bias(self) -> bool:
        return self.b1 is not None

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, output_size={self.output_size}, "
                f"bias={self.bias}, batch_first={self.batch_first}, fused={self.fused}")

    def _native(self, device: torch.device) -> bool:
        return self.fused and (device.type == "cpu" or (device.type == "cuda" and ops.cuda_built()))

    def forward(self, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (L, B, F) [(B, L, F) with batch_first] or (L, F); h0 (B, H), (H,) or None.
        -> predictions (L, B, O), hidden states (L, B, H), in x's layout. Pass
        ``hidden[-1].detach()`` (``hidden[:, -1]`` with batch_first) as the next call's h0 for
        truncated backpropagation."""
        H = self.hidden_size
        if x.dim() not in (2, 3):
            raise ValueError(f"x must have shape (L, B, F), (B, L, F) with batch_first, or (L, F); got {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"x's last dimension must be input_size={self.input_size}, got {tuple(x.shape)}")
        if h0 is not None and (h0.dim() not in (1, 2) or h0.shape[-1] != H):
            raise ValueError(f"h0 must have shape (B, H), (H,) with H={H}, or be None; got {tuple(h0.shape)}")
        if x.dim() == 2:  # one sequence
            if h0 is not None and h0.dim() == 2:
                raise ValueError(f"an unbatched x (L, F) takes h0 (H,), got {tuple(h0.shape)}")
            h = x.new_zeros(H) if h0 is None else h0
            if not self.bias and self._native(x.device) and x.device.type == "cpu":
                return ops.cell(x, h, self.w1, self.w2)
            pred, hidden = self._run(x[:, None], h[None])
            return pred[:, 0], hidden[:, 0]
        seq = x.transpose(0, 1) if self.batch_first else x  # (L, B, F)
        B = seq.shape[1]
        if h0 is None:
            h = seq.new_zeros(B, H)
        elif h0.dim() == 1:
            h = h0.expand(B, H)
        elif h0.shape[0] != B:
            raise ValueError(f"h0 must have shape (B, H) = ({B}, {H}) for a batch of {B}, got {tuple(h0.shape)}")
        else:
            h = h0
        pred, hidden = self._run(seq, h)
        if self.batch_first:
            return pred.transpose(0, 1), hidden.transpose(0, 1)
        return pred, hidden

    def _run(self, x: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
        """x (L, B, F), h0 (B, H) -> (L, B, O), (L, B, H)."""
        if self._native(x.device):
            return ops.cell_batch(x, h0, self.w1, self.w2, self.b1, self.b2)
        return reference.run_batch(x, h0, self.w1, self.w2, self.b1, self.b2)

    @classmethod
    def from_torch(cls, rnn: nn.RNN | nn.RNNCell, linear: nn.Linear, fused: bool = True) -> "ElmanRNN":
        """From ``nn.RNN`` (one layer, tanh, one direction) or ``nn.RNNCell`` (tanh), and
        ``nn.Linear``: w1 = [W_ih^T; W_hh^T], w2 = W^T of the linear layer; with biases on either,
        ``bias=True`` and b1 = b_ih + b_hh, b2 = the linear bias (zero where one side has none)."""
        if isinstance(rnn, nn.RNN):
            if rnn.num_layers != 1 or rnn.bidirectional or rnn.nonlinearity != "tanh" or rnn.proj_size:
                raise ValueError("the RNN must have one layer, one direction, tanh and no projection")
            w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
            b_ih, b_hh = (rnn.bias_ih_l0, rnn.bias_hh_l0) if rnn.bias else (None, None)
            batch_first = rnn.batch_first
        elif isinstance(rnn, nn.RNNCell):
            if rnn.nonlinearity != "tanh":
                raise ValueError("the cell must have nonlinearity='tanh'")
            w_ih, w_hh, b_ih, b_hh = rnn.weight_ih, rnn.weight_hh, rnn.bias_ih, rnn.bias_hh
            batch_first = False
        else:
            raise TypeError(f"expected nn.RNN or nn.RNNCell, got {type(rnn).__name__}")
        F, H, O = w_ih.shape[1], w_ih.shape[0], linear.out_features
        if linear.in_features != H:
            raise ValueError(f"linear.in_features must be the recurrent layer's hidden size {H}, got {linear.in_features}")
        bias = b_ih is not None or linear.bias is not None
        model = cls(F, H, O, bias=bias, batch_first=batch_first, seed=None, dtype=w_ih.dtype, fused=fused).to(w_ih.device)
        with torch.no_grad():
            model.w1.copy_(torch.cat([w_ih.t(), w_hh.t()]))
            model.w2.copy_(linear.weight.t())
            if bias:
                model.b1.copy_(b_ih + b_hh if b_ih is not None else torch.zeros_like(model.b1))
                model.b2.copy_(linear.bias if linear.bias is not None else torch.zeros_like(model.b2))
        return model

    def to_torch(self, kind: str = "cell") -> tuple[nn.RNN | nn.RNNCell, nn.Linear]:
        """The same network as ``nn.RNNCell`` (kind="cell") or ``nn.RNN`` (kind="rnn", with this
        module's batch_first) + ``nn.Linear``, with biases when this module has them (b1 as b_ih,
        b_hh zero)."""
        if kind not in ("cell", "rnn"):
            raise ValueError(f"kind must be 'cell' or 'rnn', got {kind!r}")
        F, H, O = self.input_size, self.hidden_size, self.output_size
        where = {"dtype": self.w1.dtype, "device": self.w1.device}
        if kind == "cell":
            rnn = nn.RNNCell(F, H, bias=self.bias, **where)
            w_ih, w_hh, b_ih, b_hh = rnn.weight_ih, rnn.weight_hh, rnn.bias_ih, rnn.bias_hh
        else:
            rnn = nn.RNN(F, H, bias=self.bias, batch_first=self.batch_first, **where)
            w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
            b_ih, b_hh = (rnn.bias_ih_l0, rnn.bias_hh_l0) if self.bias else (None, None)
        linear = nn.Linear(H, O, bias=self.bias, **where)
        with torch.no_grad():
            w_ih.copy_(self.w1[:F].t())
            w_hh.copy_(self.w1[F:].t())
            linear.weight.copy_(self.w2.t())
            if self.bias:
                b_ih.copy_(self.b1)
                b_hh.zero_()
                linear.bias.copy_(self.b2)
        return rnn, linear
