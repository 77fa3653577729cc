// Status: the outcome of an operation that can fail in an expected way, as a value (LevelDB-like).
// Immutable after construction; safe to share between threads.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace strata::util {

class [[nodiscard]] Status {
 public:
  enum class Code { kOk = 0, kNotFound, kInvalidArgument, kConstraint, kIoError, kUnavailable, kInternal };

  Status() = default;
  static Status Ok() { return {}; }
  static Status NotFound(std::string_view msg) { return {Code::kNotFound, msg}; }
  static Status InvalidArgument(std::string_view msg) { return {Code::kInvalidArgument, msg}; }
  // A database constraint (unique, foreign key, check) refused the change.
  static Status Constraint(std::string_view msg) { return {Code::kConstraint, msg}; }
  static Status IoError(std::string_view msg) { return {Code::kIoError, msg}; }
  static Status Unavailable(std::string_view msg) { return {Code::kUnavailable, msg}; }
  static Status Internal(std::string_view msg) { return {Code::kInternal, msg}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "OK" or "<code name>: <message>", for logs.
  std::string ToString() const;

 private:
  Status(Code code, std::string_view msg) : code_(code), message_(msg) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
using Result = std::expected<T, Status>;

}  // namespace strata::util
