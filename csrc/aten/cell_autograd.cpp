// The batched cell's autograd kernel (any device): cell_forward saves x, h0, w1, w2 and the hidden
// states; its backward is the cell_backward op. In C++ rather than torch.library.register_autograd:
// the Python path (autograd.Function, pytree, zero-filled gradients for unused outputs) costs
// more than the native ops at the tutorial's sizes (docs/performance.md, "Figures behind the code"). Both ops go through the dispatcher, so torch.compile
// traces them through their fake kernels, and a second derivative reaches cell_backward's
// autograd kernel (sinernn/_native/autograd.py), which refuses it.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::tuple<at::Tensor, at::Tensor> call_forward(const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w1,
                                                const at::Tensor& w2, const c10::optional<at::Tensor>& b1,
                                                const c10::optional<at::Tensor>& b2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("sinernn::cell_forward", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                                 const at::Tensor&, const c10::optional<at::Tensor>&,
                                                                 const c10::optional<at::Tensor>&)>();
  return op.call(x, h0, w1, w2, b1, b2);
}

using Grads = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

Grads call_backward(const c10::optional<at::Tensor>& g_pred, const c10::optional<at::Tensor>& g_hidden,
                    const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w1, const at::Tensor& w2,
                    const at::Tensor& hidden, bool bias1, bool bias2) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("sinernn::cell_backward", "")
                       .typed<Grads(const c10::optional<at::Tensor>&, const c10::optional<at::Tensor>&,
                                    const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                    const at::Tensor&, bool, bool)>();
  return op.call(g_pred, g_hidden, x, h0, w1, w2, hidden, bias1, bias2);
}

struct CellFunction : public torch::autograd::Function<CellFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& h0, const at::Tensor& w1,
                               const at::Tensor& w2, const c10::optional<at::Tensor>& b1,
                               const c10::optional<at::Tensor>& b2) {
    at::AutoDispatchBelowADInplaceOrView below;
    auto [pred, hidden] = call_forward(x, h0, w1, w2, b1, b2);
    ctx->save_for_backward({x, h0, w1, w2, hidden});
    ctx->saved_data["bias1"] = b1.has_value();
    ctx->saved_data["bias2"] = b2.has_value();
    ctx->set_materialize_grads(false);  // an output no loss reaches stays undefined: the op takes None
    return {pred, hidden};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const bool bias1 = ctx->saved_data["bias1"].toBool(), bias2 = ctx->saved_data["bias2"].toBool();
    auto given = [](const at::Tensor& g) { return g.defined() ? c10::optional<at::Tensor>(g) : c10::nullopt; };
    auto [gx, gh0, gw1, gw2, gb1, gb2] =
        call_backward(given(grads[0]), given(grads[1]), saved[0], saved[1], saved[2], saved[3], saved[4], bias1, bias2);
    return {gx, gh0, gw1, gw2, bias1 ? gb1 : at::Tensor(), bias2 ? gb2 : at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> cell_forward_autograd(const at::Tensor& x, const at::Tensor& h0,
                                                         const at::Tensor& w1, const at::Tensor& w2,
                                                         const c10::optional<at::Tensor>& b1,
                                                         const c10::optional<at::Tensor>& b2) {
  variable_list out = CellFunction::apply(x, h0, w1, w2, b1, b2);
  return {out[0], out[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(sinernn, Autograd, m) { m.impl("cell_forward", &cell_forward_autograd); }
