// The float32 tanh of csrc/core/tanh.h against tanhl, over every float of magnitude 2^-126 .. 10
// (or every STRIDE-th): the largest error in ulps of the correctly rounded result, and where. Also
// checks that it is odd, that the array form elman_tanh_n (AVX-512 where built for it) equals the
// scalar form (CUDA's, and every CPU's without AVX-512) bit for bit on each of those floats, and
// the special values. Exit status 0 when all hold and the largest error is within MAX_ULP
// (default 1.0). Every float: about 3 minutes on one core.
//   g++ -O2 -march=native -ffp-contract=off -fopenmp-simd -I csrc tests/native/tanh_accuracy.cpp -o /tmp/tanh_accuracy
//   /tmp/tanh_accuracy [STRIDE [MAX_ULP]]
// tests/native/test_tanh.py runs it with a stride, built with and without -march=native.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/tanh.h"

namespace {

float from_bits(uint32_t b) {
  float x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

int main(int argc, char** argv) {
  const uint32_t stride = argc > 1 ? uint32_t(std::strtoul(argv[1], nullptr, 10)) : 1;
  const double max_ulp = argc > 2 ? std::strtod(argv[2], nullptr) : 1.0;
  if (stride < 1) {
    std::fprintf(stderr, "usage: tanh_accuracy [STRIDE >= 1 [MAX_ULP]]\n");
    return 2;
  }
  double worst = 0;
  float worst_at = 0;
  bool forms_agree = true;
  float block[16], block_tanh[16];
  uint64_t n = 0;
  for (uint64_t b = 0x00800000u; b < 0x41200000u; b += 16 * uint64_t(stride)) {
    int count = 0;  // the next (up to) 16 floats, through the array form
    for (; count < 16 && b + uint64_t(count) * stride < 0x41200000u; ++count)
      block[count] = from_bits(uint32_t(b + uint64_t(count) * stride));
    sinernn::elman_tanh_n(block, block_tanh, count);
    for (int k = 0; k < count; ++k) {
      const float x = block[k];
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
      if (!same_bits(block_tanh[k], got) && forms_agree) {
        std::printf("elman_tanh_n differs from elman_tanh at %.9g\n", x);
        forms_agree = false;
      }
      if (sinernn::elman_tanh(-x) != -got) {
        std::printf("not odd at %.9g\n", x);
        return 1;
      }
      ++n;
    }
  }
  std::printf("max error %.3f ulp at %.9g (%llu floats)\n", worst, worst_at, static_cast<unsigned long long>(n));
  const bool ok = std::signbit(sinernn::elman_tanh(-0.0f)) && sinernn::elman_tanh(INFINITY) == 1.0f &&
                  sinernn::elman_tanh(-INFINITY) == -1.0f && std::isnan(sinernn::elman_tanh(NAN)) &&
                  sinernn::elman_tanh(1e-40f) == 1e-40f && sinernn::elman_tanh(30.0f) == 1.0f;
  float specials[5] = {-0.0f, INFINITY, -INFINITY, NAN, 1e-40f}, specials_tanh[5];
  sinernn::elman_tanh_n(specials, specials_tanh, 5);  // a partial register, where AVX-512
  for (int k = 0; k < 5; ++k) forms_agree &= same_bits(sinernn::elman_tanh(specials[k]), specials_tanh[k]);
  std::printf("special values (-0, +-inf, nan, subnormal, 30): %s; array and scalar forms: %s (AVX-512 %s)\n",
              ok ? "ok" : "WRONG", forms_agree ? "same" : "DIFFERENT", SINERNN_AVX512 ? "on" : "off");
  return ok && forms_agree && worst <= max_ulp ? 0 : 1;
}
