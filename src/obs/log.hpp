// Process-wide application logging (spdlog, to stderr). Initialise once at start-up, before
// threads start; logging itself is thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace strata::obs {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Parses "trace", "debug", "info", "warn", "error" or "off"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);

// Sends application logs to stderr at `level` and above.
void InitLogging(LogLevel level);

// Flushes buffered application log lines.
void FlushLogs();

}  // namespace strata::obs
