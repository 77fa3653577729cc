#include "files/mime.hpp"

#include <magic.h>

#include <memory>

namespace strata::files {
namespace {

struct MagicCloser {
  void operator()(magic_t m) const { magic_close(m); }
};

// libmagic handles are not thread-safe: one per thread, loaded on first use.
magic_t ThreadMagic() {
  thread_local std::unique_ptr<std::remove_pointer_t<magic_t>, MagicCloser> handle = [] {
    std::unique_ptr<std::remove_pointer_t<magic_t>, MagicCloser> m(
        magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF | MAGIC_ERROR));
    if (m && magic_load(m.get(), nullptr) != 0) m.reset();
    return m;
  }();
  return handle.get();
}

}  // namespace

std::string DetectMimeType(std::string_view head) {
  magic_t m = ThreadMagic();
  if (!m || head.empty()) return "application/octet-stream";
  const char* type = magic_buffer(m, head.data(), head.size());
  if (!type || !*type) return "application/octet-stream";
  return type;
}

}  // namespace strata::files
