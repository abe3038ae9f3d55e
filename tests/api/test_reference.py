"""The reference path is the tutorial's algorithm: data, initial weights, training, prediction."""

import numpy as np
import pytest
import torch

import sinernn
from sinernn.engine import reference


def tutorial_literal(seed: int, epochs: int = 300):
    """The tutorial's code ("PyTorch - Recurrent Neural Network", the sine
    wave), with only the edits current PyTorch forces:
    no Variable, normal_ for init.normal, .item() for .data[0]. Everything else verbatim."""
    dtype = torch.float32
    input_size, hidden_size, output_size = 7, 6, 1
    seq_length = 20
    lr = 0.1
    data_time_steps = np.linspace(2, 10, seq_length + 1)
    data = np.sin(data_time_steps)
    data.resize((seq_length + 1, 1))
    x = torch.Tensor(data[:-1]).type(dtype)
    y = torch.Tensor(data[1:]).type(dtype)
    torch.manual_seed(seed)
    w1 = torch.FloatTensor(input_size, hidden_size).type(dtype)
    w1.normal_(0.0, 0.4)
    w1.requires_grad_(True)
    w2 = torch.FloatTensor(hidden_size, output_size).type(dtype)
    w2.normal_(0.0, 0.3)
    w2.requires_grad_(True)

    def forward(input, context_state, w1, w2):
        xh = torch.cat((input, context_state), 1)
        context_state = torch.tanh(xh.mm(w1))
        out = context_state.mm(w2)
        return (out, context_state)

    log = []
    for i in range(epochs):
        total_loss = 0
        context_state = torch.zeros((1, hidden_size)).type(dtype).requires_grad_(True)
        for j in range(x.size(0)):
            input = x[j : (j + 1)]
            target = y[j : (j + 1)]
            (pred, context_state) = forward(input, context_state, w1, w2)
            loss = (pred - target).pow(2).sum() / 2
            total_loss += loss
            loss.backward()
            w1.data -= lr * w1.grad.data
            w2.data -= lr * w2.grad.data
            w1.grad.data.zero_()
            w2.grad.data.zero_()
            context_state = context_state.data
        log.append(total_loss.item())

    context_state = torch.zeros((1, hidden_size)).type(dtype)
    predictions = []
    with torch.no_grad():
        for i in range(x.size(0)):
            input = x[i : i + 1]
            (pred, context_state) = forward(input, context_state, w1, w2)
            predictions.append(pred.data.numpy().ravel()[0])
    return x, y, log, w1.detach(), w2.detach(), np.array(predictions)


def test_sine_data_is_the_tutorials():
    x, y = sinernn.sine_data(seq_length=20)
    data = np.sin(np.linspace(2, 10, 21)).reshape(21, 1)
    assert x.shape == (20, 1) and y.shape == (20, 1) and x.dtype == torch.float32
    assert torch.equal(x, torch.Tensor(data[:-1])) and torch.equal(y, torch.Tensor(data[1:]))
    x64, _ = sinernn.sine_data(seq_length=5, dtype=torch.float64)
    assert torch.equal(x64[:, 0], torch.from_numpy(np.sin(np.linspace(2, 10, 6))[:-1]))


@pytest.mark.parametrize("seed", [0, 7])
def test_init_weights_are_the_tutorials_draws(seed):
    state = torch.get_rng_state()
    w1, w2 = sinernn.init_weights(input_size=1, hidden_size=6, output_size=1, seed=seed)
    assert torch.equal(torch.get_rng_state(), state), "init_weights must leave the global RNG alone"
    torch.manual_seed(seed)
    e1 = torch.empty(7, 6).normal_(0.0, 0.4)  # drawn first, like the tutorial
    e2 = torch.empty(6, 1).normal_(0.0, 0.3)
    assert torch.equal(w1, e1) and torch.equal(w2, e2)
    a1, a2 = sinernn.init_weights(seed=seed)
    assert torch.equal(a1, w1) and torch.equal(a2, w2)  # same seed, same weights


def test_reference_equals_the_tutorial_bit_for_bit():
    """300 epochs: the reference reproduces the tutorial's losses, weights and predictions exactly."""
    x, y, log, t1, t2, t_pred = tutorial_literal(seed=3)
    w1, w2 = sinernn.init_weights(seed=3)
    losses = reference.train(x, y, w1, w2, epochs=300, lr=0.1)
    assert losses.tolist() == pytest.approx(log, rel=0, abs=0)
    assert torch.equal(w1, t1) and torch.equal(w2, t2)
    preds, hidden = reference.predict(x, w1, w2)
    assert preds.shape == (20, 1) and hidden.shape == (20, 6)
    np.testing.assert_array_equal(preds[:, 0].numpy(), t_pred)


def test_reference_trains_the_tutorial_down():
    x, y = sinernn.sine_data()
    w1, w2 = sinernn.init_weights(seed=0)
    losses = reference.train(x, y, w1, w2, epochs=300, lr=0.1)
    assert losses[-1] < 0.1 * losses[0]


def test_reference_step_matches_hand_gradients_float64():
    """The reference step against DESIGN.md's gradient formulas, written out in torch."""
    g = torch.Generator().manual_seed(5)
    F, H, O = 3, 4, 2
    x, y, h = (torch.randn(n, generator=g, dtype=torch.float64) for n in (F, O, H))
    w1 = torch.randn(F + H, H, generator=g, dtype=torch.float64)
    w2 = torch.randn(H, O, generator=g, dtype=torch.float64)
    xh = torch.cat([x, h])
    h_new = torch.tanh(xh @ w1)
    p = h_new @ w2
    e = p - y
    gw2 = torch.outer(h_new, e)
    gw1 = torch.outer(xh, (e @ w2.T) * (1 - h_new * h_new))
    exp1, exp2 = w1 - 0.05 * gw1, w2 - 0.05 * gw2
    got_h, got_p, loss = reference.step(x, y, h, w1, w2, 0.05)
    torch.testing.assert_close(got_h, h_new, rtol=1e-14, atol=0)
    torch.testing.assert_close(got_p, p, rtol=1e-14, atol=0)
    torch.testing.assert_close(loss, 0.5 * (e * e).sum(), rtol=1e-14, atol=0)
    torch.testing.assert_close(w1, exp1, rtol=1e-14, atol=1e-16)
    torch.testing.assert_close(w2, exp2, rtol=1e-14, atol=1e-16)
    assert not w1.requires_grad and w1.grad is None  # the caller's tensors stay plain
