// SqlValue: a value bound to a SQL statement parameter, the same for every Store dialect.
// A plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace strata::util {

// std::monostate is SQL NULL. Booleans are bound as integers 0/1 by SQLite and as booleans by
// PostgreSQL.
using SqlValue = std::variant<std::monostate, bool, int64_t, double, std::string>;
using SqlParams = std::vector<SqlValue>;

}  // namespace strata::util
