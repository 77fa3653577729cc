#include "mail/mailer.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <string_view>

#include "util/random.hpp"

namespace strata::mail {
namespace {

std::string HeaderValue(std::string_view v) {
  std::string out;
  for (char c : v) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

// The bare address of "Name <address>" or of an address.
std::string Address(std::string_view from) {
  const auto open = from.rfind('<');
  const auto close = from.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    return std::string(from.substr(open + 1, close - open - 1));
  }
  return std::string(from);
}

class CaptureMailer final : public Mailer {
 public:
  explicit CaptureMailer(std::filesystem::path dir) : dir_(std::move(dir)) {}

  util::Status Send(const Message& message) override {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return util::Status::IoError(fmt::format("cannot create {}: {}", dir_.string(), ec.message()));
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const std::string name = fmt::format("{}-{}", std::chrono::duration_cast<std::chrono::microseconds>(now).count(),
                                         util::RandomString(8, "abcdefghijklmnopqrstuvwxyz0123456789"));
    const auto tmp = dir_ / ("." + name + ".tmp");
    {
      std::ofstream out(tmp, std::ios::binary);
      out << Render(message);
      out.flush();
      if (!out) return util::Status::IoError(fmt::format("cannot write {}", tmp.string()));
    }
    std::filesystem::rename(tmp, dir_ / (name + ".eml"), ec);
    if (ec) return util::Status::IoError(fmt::format("cannot store the message: {}", ec.message()));
    return util::Status::Ok();
  }

 private:
  std::filesystem::path dir_;
};

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t ReadPayload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* up = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, up->data.size() - up->offset);
  std::memcpy(buffer, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

class SmtpMailer final : public Mailer {
 public:
  explicit SmtpMailer(SmtpOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  util::Status Send(const Message& message) override {
    CURL* curl = curl_easy_init();
    if (!curl) return util::Status::Unavailable("cannot start an SMTP session");
    const std::string payload = Render(message);
    Upload up{payload};
    const std::string from = "<" + Address(message.from) + ">";
    const std::string to = "<" + Address(message.to) + ">";
    curl_slist* rcpt = curl_slist_append(nullptr, to.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
    if (!options_.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadPayload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) return util::Status::Unavailable(fmt::format("SMTP: {}", curl_easy_strerror(rc)));
    return util::Status::Ok();
  }

 private:
  SmtpOptions options_;
};

}  // namespace

std::string Render(const Message& m) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  const std::string domain = [&] {
    const std::string a = Address(m.from);
    const auto at = a.find('@');
    return at == std::string::npos ? std::string("localhost") : a.substr(at + 1);
  }();
  std::string out;
  out += "From: " + HeaderValue(m.from) + "\r\n";
  out += "To: " + HeaderValue(m.to) + "\r\n";
  out += "Subject: " + HeaderValue(m.subject) + "\r\n";
  out += std::string("Date: ") + date + "\r\n";
  out += fmt::format("Message-ID: <{}@{}>\r\n", util::RandomString(20, "abcdefghijklmnopqrstuvwxyz0123456789"),
                     HeaderValue(domain));
  out += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  std::string_view body = m.text;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // SMTP ends the data at a line holding a single dot: such lines get one more.
    if (line.starts_with('.')) out += '.';
    out += line;
    out += "\r\n";
    body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
  }
  return out;
}

std::unique_ptr<Mailer> MakeCaptureMailer(std::filesystem::path dir) {
  return std::make_unique<CaptureMailer>(std::move(dir));
}

std::unique_ptr<Mailer> MakeSmtpMailer(SmtpOptions options) { return std::make_unique<SmtpMailer>(std::move(options)); }

}  // namespace strata::mail
