#include "files/blurhash.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <vector>

namespace strata::files {
namespace {

constexpr std::string_view kDigits =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

void Base83(std::string& out, int value, int length) {
  for (int i = 1; i <= length; ++i) {
    int divisor = 1;
    for (int k = 0; k < length - i; ++k) divisor *= 83;
    out += kDigits[static_cast<std::size_t>((value / divisor) % 83)];
  }
}

double SrgbToLinear(uint8_t value) {
  const double v = value / 255.0;
  return v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
}

int LinearToSrgb(double value) {
  const double v = std::clamp(value, 0.0, 1.0);
  if (v <= 0.0031308) return static_cast<int>(v * 12.92 * 255 + 0.5);
  return static_cast<int>((1.055 * std::pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
}

double SignPow(double value, double exp) { return std::copysign(std::pow(std::abs(value), exp), value); }

}  // namespace

std::string BlurHash(std::span<const uint8_t> rgb, int width, int height, int x_components, int y_components) {
  if (x_components < 1 || x_components > 9 || y_components < 1 || y_components > 9 || width < 1 || height < 1 ||
      rgb.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3) {
    return {};
  }
  // Linear light of every pixel, once.
  std::vector<double> linear(rgb.size());
  for (std::size_t i = 0; i < rgb.size(); ++i) linear[i] = SrgbToLinear(rgb[i]);
  // The cosines along each axis, once per component.
  auto cosines = [](int components, int size) {
    std::vector<double> c(static_cast<std::size_t>(components) * static_cast<std::size_t>(size));
    for (int i = 0; i < components; ++i) {
      for (int p = 0; p < size; ++p) {
        c[static_cast<std::size_t>(i * size + p)] = std::cos(std::numbers::pi * i * p / size);
      }
    }
    return c;
  };
  const auto cos_x = cosines(x_components, width);
  const auto cos_y = cosines(y_components, height);

  std::vector<std::array<double, 3>> factors;
  for (int j = 0; j < y_components; ++j) {
    for (int i = 0; i < x_components; ++i) {
      const double normalisation = (i == 0 && j == 0) ? 1 : 2;
      std::array<double, 3> sum{0, 0, 0};
      for (int y = 0; y < height; ++y) {
        const double cy = cos_y[static_cast<std::size_t>(j * height + y)];
        for (int x = 0; x < width; ++x) {
          const double basis = normalisation * cos_x[static_cast<std::size_t>(i * width + x)] * cy;
          const std::size_t p =
              (static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x)) * 3;
          sum[0] += basis * linear[p];
          sum[1] += basis * linear[p + 1];
          sum[2] += basis * linear[p + 2];
        }
      }
      const double scale = 1.0 / (static_cast<double>(width) * height);
      factors.push_back({sum[0] * scale, sum[1] * scale, sum[2] * scale});
    }
  }

  std::string hash;
  Base83(hash, (x_components - 1) + (y_components - 1) * 9, 1);
  double maximum = 1;
  if (factors.size() > 1) {
    double actual = 0;
    for (std::size_t k = 1; k < factors.size(); ++k) {
      for (double v : factors[k]) actual = std::max(actual, std::abs(v));
    }
    const int quantised = std::clamp(static_cast<int>(std::floor(actual * 166 - 0.5)), 0, 82);
    maximum = (quantised + 1) / 166.0;
    Base83(hash, quantised, 1);
  } else {
    Base83(hash, 0, 1);
  }
  const auto& dc = factors[0];
  Base83(hash, (LinearToSrgb(dc[0]) << 16) + (LinearToSrgb(dc[1]) << 8) + LinearToSrgb(dc[2]), 4);
  for (std::size_t k = 1; k < factors.size(); ++k) {
    int q[3];
    for (int c = 0; c < 3; ++c) {
      q[c] = std::clamp(static_cast<int>(std::floor(SignPow(factors[k][c] / maximum, 0.5) * 9 + 9.5)), 0, 18);
    }
    Base83(hash, q[0] * 19 * 19 + q[1] * 19 + q[2], 2);
  }
  return hash;
}

}  // namespace strata::files
