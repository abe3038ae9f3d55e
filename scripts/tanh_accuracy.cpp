// The float32 tanh of csrc/elman_math.h against tanhl, over every float of magnitude 2^-126 .. 10:
// the largest error in ulps of the correctly rounded result, and where. Also checks that it is odd
// and the special values. About 3 minutes on one core:
//   g++ -O2 -march=native -ffp-contract=off -I csrc scripts/tanh_accuracy.cpp -o /tmp/tanh_accuracy && /tmp/tanh_accuracy
#include <cmath>
#include <cstdio>
#include <cstring>

#include "elman_math.h"

int main() {
  double worst = 0;
  float worst_at = 0;
  for (uint32_t b = 0x00800000u; b < 0x41200000u; ++b) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    const long double exact = tanhl(static_cast<long double>(x));
    const float rounded = static_cast<float>(exact);
    // ulp: the spacing of floats at the correctly rounded result (2^-24 at 1)
    const double ulp = rounded == 1.0f ? std::ldexp(1.0, -24)
                                       : static_cast<double>(std::nextafter(rounded, 2.0f)) - rounded;
    const float got = sinernn::elman_tanh(x);
    const double err = static_cast<double>(std::fabs(static_cast<long double>(got) - exact)) / ulp;
    if (err > worst) {
      worst = err;
      worst_at = x;
    }
    if (sinernn::elman_tanh(-x) != -got) {
      std::printf("not odd at %.9g\n", x);
      return 1;
    }
  }
  std::printf("max error %.3f ulp at %.9g\n", worst, worst_at);
  const bool ok = std::signbit(sinernn::elman_tanh(-0.0f)) && sinernn::elman_tanh(INFINITY) == 1.0f &&
                  sinernn::elman_tanh(-INFINITY) == -1.0f && std::isnan(sinernn::elman_tanh(NAN)) &&
                  sinernn::elman_tanh(1e-40f) == 1e-40f && sinernn::elman_tanh(30.0f) == 1.0f;
  std::printf("special values (-0, +-inf, nan, subnormal, 30): %s\n", ok ? "ok" : "WRONG");
  return ok && worst < 1.5 ? 0 : 1;
}
