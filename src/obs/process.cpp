#include "obs/process.hpp"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "obs/metrics.hpp"

namespace strata::obs {

double ResidentMemoryBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long pages_total = 0, pages_resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

namespace {

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return 0;
  int count = 0;
  while (readdir(dir)) ++count;
  closedir(dir);
  return count - 3;  // ".", ".." and the descriptor of the listing itself
}

}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  const double start = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  registry.AddCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.", ResidentMemoryBytes);
  registry.AddCallbackGauge("process_open_fds", "Number of open file descriptors.", OpenFds);
  registry.AddCallbackGauge("process_start_time_seconds", "Start time of the process since the Unix epoch.",
                            [start] { return start; });
}

}  // namespace strata::obs
