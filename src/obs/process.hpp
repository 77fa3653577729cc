// Process-level metrics read from /proc. Thread-safe.
#pragma once

namespace strata::obs {

class Registry;

// Registers process_resident_memory_bytes, process_open_fds and process_start_time_seconds.
void RegisterProcessMetrics(Registry& registry);

// Resident set size of this process in bytes, or 0 if /proc cannot be read.
double ResidentMemoryBytes();

}  // namespace strata::obs
