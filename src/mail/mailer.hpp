// Outgoing mail: verification, password reset, email change and one-time passwords. Mail goes out
// over SMTP when it is configured; otherwise (and for tests) each message is written as an .eml
// file to a capture folder. Send blocks (network or disk): call it off the I/O threads.
// Implementations are thread-safe.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "util/status.hpp"

namespace strata::mail {

struct Message {
  std::string from;  // "Name <address>" or an address
  std::string to;    // an address
  std::string subject;
  std::string text;  // plain-text body
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  // Delivers the message (to the SMTP server, or into the capture folder). Returns Ok, or
  // Unavailable / IoError saying why not.
  virtual util::Status Send(const Message& message) = 0;
};

// Writes each message to `dir` (created if needed) as <time>-<random>.eml, complete before it
// appears under that name.
std::unique_ptr<Mailer> MakeCaptureMailer(std::filesystem::path dir);

struct SmtpOptions {
  std::string url;  // smtp://host:port (STARTTLS when offered) or smtps://host:port
  std::string username;
  std::string password;
};
std::unique_ptr<Mailer> MakeSmtpMailer(SmtpOptions options);

// The message in RFC 5322 form (headers, blank line, body with CRLF line ends), with a Date and a
// Message-ID. Header values are stripped of CR and LF.
std::string Render(const Message& message);

}  // namespace strata::mail
