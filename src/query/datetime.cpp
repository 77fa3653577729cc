#include "query/datetime.hpp"

#include <cmath>
#include <cstdio>

namespace strata::query::internal {
namespace {

constexpr int64_t kMsPerDay = 86400000;
constexpr int64_t kUnixEpochJdMs = 210866760000000;  // 1970-01-01 00:00:00 as a Julian day in ms
constexpr int64_t kMaxJdMs = 464269060799999;        // 9999-12-31 23:59:59.999

struct Civil {
  int year, month, day, hour, minute, second, millis, weekday;  // weekday: 0 = Sunday
};

Civil ToCivil(Clock::time_point t) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  auto days = std::chrono::floor<std::chrono::days>(ms);
  std::chrono::year_month_day ymd{days};
  auto in_day = ms - days;
  Civil c{};
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  int64_t msd = in_day.count();
  c.hour = static_cast<int>(msd / 3600000);
  c.minute = static_cast<int>(msd / 60000 % 60);
  c.second = static_cast<int>(msd / 1000 % 60);
  c.millis = static_cast<int>(msd % 1000);
  c.weekday = static_cast<int>(std::chrono::weekday{days}.c_encoding());
  return c;
}

std::string Format(int y, int mo, int d, int h, int mi, int s, int ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, ms);
  return buf;
}

int DaysInMonth(int y, int m) {
  return static_cast<int>(static_cast<unsigned>(std::chrono::year_month_day_last{
      std::chrono::year{y}, std::chrono::month_day_last{std::chrono::month(
                                m)}}.day()));
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// SQLite's DateTime and its algorithms (date.c), with times as Julian days in milliseconds.
struct DateTime {
  int64_t jd = 0;
  int y = 2000, m = 1, d = 1, h = 0, mi = 0;
  double s = 0;
  int tz = 0;  // minutes east of UTC
  bool valid_jd = false, valid_ymd = false, valid_hms = false, valid_tz = false, raw_s = false, error = false;

  void ComputeJd() {
    if (valid_jd) return;
    int Y = 2000, M = 1, D = 1;
    if (valid_ymd) Y = y, M = m, D = d;
    if (Y < -4713 || Y > 9999 || raw_s) {
      error = true;
      return;
    }
    if (M <= 2) Y--, M += 12;
    int A = Y / 100;
    int B = 2 - A + (A / 4);
    int X1 = 36525 * (Y + 4716) / 100;
    int X2 = 306001 * (M + 1) / 10000;
    jd = static_cast<int64_t>((X1 + X2 + D + B - 1524.5) * kMsPerDay);
    valid_jd = true;
    if (valid_hms) {
      jd += h * 3600000 + mi * 60000 + static_cast<int64_t>(s * 1000 + 0.5);
      if (valid_tz) {
        jd -= tz * 60000;
        valid_ymd = valid_hms = valid_tz = false;
      }
    }
  }

  void ComputeYmd() {
    if (valid_ymd) return;
    if (!valid_jd) {
      y = 2000, m = 1, d = 1;
    } else if (jd < 0 || jd > kMaxJdMs) {
      error = true;
      return;
    } else {
      int Z = static_cast<int>((jd + 43200000) / kMsPerDay);
      int A = static_cast<int>((Z - 1867216.25) / 36524.25);
      A = Z + 1 + A - (A / 4);
      int B = A + 1524;
      int C = static_cast<int>((B - 122.1) / 365.25);
      int D = (36525 * (C & 32767)) / 100;
      int E = static_cast<int>((B - D) / 30.6001);
      int X1 = static_cast<int>(30.6001 * E);
      d = B - D - X1;
      m = E < 14 ? E - 1 : E - 13;
      y = m > 2 ? C - 4716 : C - 4715;
    }
    valid_ymd = true;
  }

  void ComputeHms() {
    if (valid_hms) return;
    ComputeJd();
    int ms = static_cast<int>((jd + 43200000) % kMsPerDay);
    s = ms / 1000.0;
    int whole = static_cast<int>(s);
    s -= whole;
    h = whole / 3600;
    whole -= h * 3600;
    mi = whole / 60;
    s += whole - mi * 60;
    raw_s = false;
    valid_hms = true;
  }

  void ComputeYmdHms() {
    ComputeYmd();
    ComputeHms();
  }
  void ClearYmdHmsTz() { valid_ymd = valid_hms = valid_tz = false; }
};

// SQLite's getDigits for one field: exactly `n` digits in [lo, hi].
bool Digits(std::string_view z, std::size_t at, int n, int lo, int hi, int* out) {
  if (at + n > z.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = z[at + k];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Returns true on failure, as SQLite's parse functions do.
bool ParseTimezone(std::string_view z, std::size_t i, DateTime* p) {
  while (i < z.size() && IsSpace(z[i])) ++i;
  p->tz = 0;
  if (i == z.size()) return false;
  char c = z[i];
  int sign;
  if (c == '-') {
    sign = -1;
  } else if (c == '+') {
    sign = 1;
  } else if (c == 'Z' || c == 'z') {
    ++i;
    while (i < z.size() && IsSpace(z[i])) ++i;
    return i != z.size();
  } else {
    return true;
  }
  ++i;
  int hr, mn;
  if (!Digits(z, i, 2, 0, 14, &hr) || i + 2 >= z.size() || z[i + 2] != ':' || !Digits(z, i + 3, 2, 0, 59, &mn)) {
    return true;
  }
  i += 5;
  p->tz = sign * (mn + hr * 60);
  while (i < z.size() && IsSpace(z[i])) ++i;
  return i != z.size();
}

bool ParseHms(std::string_view z, std::size_t i, DateTime* p) {
  int h, m, s = 0;
  if (!Digits(z, i, 2, 0, 24, &h) || i + 2 >= z.size() || z[i + 2] != ':' || !Digits(z, i + 3, 2, 0, 59, &m)) {
    return true;
  }
  i += 5;
  double ms = 0;
  if (i < z.size() && z[i] == ':') {
    ++i;
    if (!Digits(z, i, 2, 0, 59, &s)) return true;
    i += 2;
    if (i + 1 < z.size() && z[i] == '.' && IsDigit(z[i + 1])) {
      double scale = 1.0;
      ++i;
      while (i < z.size() && IsDigit(z[i])) {
        ms = ms * 10.0 + (z[i] - '0');
        scale *= 10.0;
        ++i;
      }
      ms /= scale;
    }
  }
  p->valid_jd = false;
  p->raw_s = false;
  p->valid_hms = true;
  p->h = h;
  p->mi = m;
  p->s = s + ms;
  if (ParseTimezone(z, i, p)) return true;
  p->valid_tz = p->tz != 0;
  return false;
}

bool ParseYmd(std::string_view z, DateTime* p) {
  std::size_t i = 0;
  bool neg = false;
  if (!z.empty() && z[0] == '-') neg = true, ++i;
  int Y, M, D;
  if (!Digits(z, i, 4, 0, 9999, &Y) || i + 4 >= z.size() || z[i + 4] != '-' || !Digits(z, i + 5, 2, 1, 12, &M) ||
      i + 7 >= z.size() || z[i + 7] != '-' || !Digits(z, i + 8, 2, 1, 31, &D)) {
    return true;
  }
  i += 10;
  while (i < z.size() && (IsSpace(z[i]) || z[i] == 'T')) ++i;
  if (!ParseHms(z, i, p)) {
    // got the time
  } else if (i == z.size()) {
    p->valid_hms = false;
  } else {
    return true;
  }
  p->valid_jd = false;
  p->valid_ymd = true;
  p->y = neg ? -Y : Y;
  p->m = M;
  p->d = D;
  if (p->valid_tz) p->ComputeJd();
  return false;
}

void SetRawNumber(DateTime* p, double r) {
  p->s = r;
  p->raw_s = true;
  if (r >= 0.0 && r < 5373484.5) {
    p->jd = static_cast<int64_t>(r * kMsPerDay + 0.5);
    p->valid_jd = true;
  }
}

void SetNow(DateTime* p, Clock::time_point now) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(now.time_since_epoch()).count();
  p->jd = ms + kUnixEpochJdMs;
  p->valid_jd = true;
}

// Returns true on failure.
bool ParseTimeValue(const Val& v, DateTime* p, Clock::time_point now) {
  if (v.is_number()) {
    SetRawNumber(p, v.AsDouble());
    return false;
  }
  if (v.type != Val::Type::kText) return true;
  std::string_view z = v.s;
  z = z.substr(0, std::min(z.size(), z.find('\0')));
  if (!ParseYmd(z, p)) return false;
  if (!ParseHms(z, 0, p)) return false;
  if (z.size() == 3 && Lower(z[0]) == 'n' && Lower(z[1]) == 'o' && Lower(z[2]) == 'w') {
    SetNow(p, now);
    return false;
  }
  if (auto n = SqliteNumeric(z)) {
    SetRawNumber(p, n->AsDouble());
    return false;
  }
  return true;
}

constexpr struct {
  std::string_view name;
  double limit;
  double seconds;
} kUnits[] = {
    {"second", 4.6427e+14, 1.0}, {"minute", 7.7379e+12, 60.0},   {"hour", 1.2897e+11, 3600.0},
    {"day", 5373485.0, 86400.0}, {"month", 176546.0, 2592000.0}, {"year", 14713.0, 31536000.0},
};

// Applies one modifier. Returns false when SQLite would reject it (the result is then NULL).
bool ApplyModifier(const DateModifier& mod, DateTime* p) {
  switch (mod.kind) {
    case DateModifier::Kind::kUnixEpoch: {
      if (!p->raw_s) return false;
      double r = p->s * 1000.0 + 210866760000000.0;
      if (!(r >= 0.0 && r < 464269060800000.0)) return false;
      p->ClearYmdHmsTz();
      p->jd = static_cast<int64_t>(r + 0.5);
      p->valid_jd = true;
      p->raw_s = false;
      return true;
    }
    case DateModifier::Kind::kWeekday: {
      int n = static_cast<int>(mod.amount);
      p->ComputeYmdHms();
      p->valid_tz = false;
      p->valid_jd = false;
      p->ComputeJd();
      int64_t z = ((p->jd + 129600000) / kMsPerDay) % 7;
      if (z > n) z -= 7;
      p->jd += (n - z) * kMsPerDay;
      p->ClearYmdHmsTz();
      return true;
    }
    case DateModifier::Kind::kStartOfDay:
    case DateModifier::Kind::kStartOfMonth:
    case DateModifier::Kind::kStartOfYear: {
      p->ComputeYmd();
      p->valid_hms = true;
      p->h = p->mi = 0;
      p->s = 0.0;
      p->raw_s = false;
      p->valid_tz = false;
      p->valid_jd = false;
      if (mod.kind != DateModifier::Kind::kStartOfDay) p->d = 1;
      if (mod.kind == DateModifier::Kind::kStartOfYear) p->m = 1;
      return true;
    }
    case DateModifier::Kind::kAdd: {
      double r = mod.amount;
      const auto& unit = kUnits[mod.unit];
      p->ComputeJd();
      if (!(r > -unit.limit && r < unit.limit)) {
        p->ClearYmdHmsTz();
        return false;
      }
      double rounder = r < 0 ? -0.5 : 0.5;
      if (mod.unit == 4) {
        p->ComputeYmdHms();
        p->m += static_cast<int>(r);
        int x = p->m > 0 ? (p->m - 1) / 12 : (p->m - 12) / 12;
        p->y += x;
        p->m -= x * 12;
        p->valid_jd = false;
        r -= static_cast<int>(r);
      } else if (mod.unit == 5) {
        int years = static_cast<int>(r);
        p->ComputeYmdHms();
        p->y += years;
        p->valid_jd = false;
        r -= static_cast<int>(r);
      }
      p->ComputeJd();
      p->jd += static_cast<int64_t>(r * 1000.0 * unit.seconds + rounder);
      p->ClearYmdHmsTz();
      return true;
    }
  }
  return false;
}

}  // namespace

std::string FormatDateTime(Clock::time_point t) {
  Civil c = ToCivil(t);
  return Format(c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis);
}

std::optional<MacroValue> EvalMacro(std::string_view name, Clock::time_point now) {
  Civil c = ToCivil(now);
  MacroValue v;
  auto number = [&](int64_t n) {
    v.number = n;
    return v;
  };
  auto text = [&](std::string s) {
    v.is_text = true;
    v.text = std::move(s);
    return v;
  };
  if (name == "@now") return text(FormatDateTime(now));
  if (name == "@yesterday") return text(FormatDateTime(now - std::chrono::days(1)));
  if (name == "@tomorrow") return text(FormatDateTime(now + std::chrono::days(1)));
  if (name == "@second") return number(c.second);
  if (name == "@minute") return number(c.minute);
  if (name == "@hour") return number(c.hour);
  if (name == "@day") return number(c.day);
  if (name == "@month") return number(c.month);
  if (name == "@weekday") return number(c.weekday);
  if (name == "@year") return number(c.year);
  if (name == "@todayStart") return text(Format(c.year, c.month, c.day, 0, 0, 0, 0));
  if (name == "@todayEnd") return text(Format(c.year, c.month, c.day, 23, 59, 59, 999));
  if (name == "@monthStart") return text(Format(c.year, c.month, 1, 0, 0, 0, 0));
  if (name == "@monthEnd") return text(Format(c.year, c.month, DaysInMonth(c.year, c.month), 23, 59, 59, 999));
  if (name == "@yearStart") return text(Format(c.year, 1, 1, 0, 0, 0, 0));
  if (name == "@yearEnd") return text(Format(c.year, 12, 31, 23, 59, 59, 999));
  return std::nullopt;
}

std::string_view DateUnitName(int unit) {
  static constexpr std::string_view kNames[] = {"seconds", "minutes", "hours", "days", "months", "years"};
  return unit >= 0 && unit < 6 ? kNames[unit] : "";
}

std::optional<DateModifier> ParseDateModifier(std::string_view text) {
  std::string z;
  for (char c : text) z += Lower(c);
  DateModifier mod;
  if (z == "unixepoch") {
    mod.kind = DateModifier::Kind::kUnixEpoch;
    return mod;
  }
  if (z == "start of day" || z == "start of month" || z == "start of year") {
    mod.kind = z == "start of day"     ? DateModifier::Kind::kStartOfDay
               : z == "start of month" ? DateModifier::Kind::kStartOfMonth
                                       : DateModifier::Kind::kStartOfYear;
    return mod;
  }
  if (z.rfind("weekday ", 0) == 0) {
    auto n = SqliteNumeric(std::string_view(z).substr(8));
    if (!n) return std::nullopt;
    double r = n->AsDouble();
    if (!(r >= 0 && r < 7) || r != std::trunc(r)) return std::nullopt;  // range first: no overflowing cast
    mod.kind = DateModifier::Kind::kWeekday;
    mod.amount = r;
    return mod;
  }
  if (!z.empty() && (z[0] == '+' || z[0] == '-' || IsDigit(z[0]))) {
    std::size_t n = 1;
    while (n < z.size() && z[n] != ':' && !IsSpace(z[n])) ++n;
    if (n < z.size() && z[n] == ':') return std::nullopt;  // ±HH:MM offsets are not implemented
    auto number = SqliteNumeric(std::string_view(z).substr(0, n));
    if (!number) return std::nullopt;
    std::size_t i = n;
    while (i < z.size() && IsSpace(z[i])) ++i;
    std::string_view unit = std::string_view(z).substr(i);
    if (unit.size() < 3 || unit.size() > 10) return std::nullopt;
    if (unit.back() == 's') unit.remove_suffix(1);
    for (int k = 0; k < 6; ++k) {
      if (kUnits[k].name == unit) {
        mod.kind = DateModifier::Kind::kAdd;
        mod.amount = number->AsDouble();
        mod.unit = k;
        return mod;
      }
    }
  }
  return std::nullopt;
}

util::Result<std::optional<std::string>> Strftime(std::string_view format, const Val* time,
                                                  const std::vector<std::string>& modifiers, Clock::time_point now) {
  DateTime x;
  if (!time) {
    SetNow(&x, now);
  } else if (time->is_null() || ParseTimeValue(*time, &x, now)) {
    return std::optional<std::string>();
  }
  for (std::size_t k = 0; k < modifiers.size(); ++k) {
    auto mod = ParseDateModifier(modifiers[k]);
    if (!mod) {
      return std::unexpected(util::Status::InvalidArgument("strftime modifier \"" + modifiers[k] +
                                                           "\" is not supported by the in-memory evaluator"));
    }
    if (!ApplyModifier(*mod, &x)) return std::optional<std::string>();
  }
  x.ComputeJd();
  if (x.error || x.jd < 0 || x.jd > kMaxJdMs) return std::optional<std::string>();
  x.ComputeYmdHms();
  if (x.error) return std::optional<std::string>();
  format = format.substr(0, std::min(format.size(), format.find('\0')));
  std::string out;
  char buf[64];
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i == format.size()) return std::optional<std::string>();
    switch (format[i]) {
      case 'd':
        std::snprintf(buf, sizeof buf, "%02d", x.d);
        break;
      case 'f':
        std::snprintf(buf, sizeof buf, "%06.3f", x.s > 59.999 ? 59.999 : x.s);
        break;
      case 'H':
        std::snprintf(buf, sizeof buf, "%02d", x.h);
        break;
      case 'W':
      case 'j': {
        DateTime y = x;
        y.valid_jd = false;
        y.m = 1;
        y.d = 1;
        y.ComputeJd();
        int days = static_cast<int>((x.jd - y.jd + 43200000) / kMsPerDay);
        if (format[i] == 'W') {
          int wd = static_cast<int>(((x.jd + 43200000) / kMsPerDay) % 7);  // 0 = Monday
          std::snprintf(buf, sizeof buf, "%02d", (days + 7 - wd) / 7);
        } else {
          std::snprintf(buf, sizeof buf, "%03d", days + 1);
        }
        break;
      }
      case 'J':
        std::snprintf(buf, sizeof buf, "%.16g", x.jd / 86400000.0);
        break;
      case 'm':
        std::snprintf(buf, sizeof buf, "%02d", x.m);
        break;
      case 'M':
        std::snprintf(buf, sizeof buf, "%02d", x.mi);
        break;
      case 's':
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(x.jd / 1000 - 21086676LL * 10000));
        break;
      case 'S':
        std::snprintf(buf, sizeof buf, "%02d", static_cast<int>(x.s));
        break;
      case 'w':
        std::snprintf(buf, sizeof buf, "%d", static_cast<int>(((x.jd + 129600000) / kMsPerDay) % 7));
        break;
      case 'Y':
        std::snprintf(buf, sizeof buf, "%04d", x.y);
        break;
      case '%':
        std::snprintf(buf, sizeof buf, "%%");
        break;
      default:
        return std::optional<std::string>();
    }
    out += buf;
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace strata::query::internal
