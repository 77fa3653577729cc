#include "mail/mailer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace strata::mail {
namespace {

TEST(Render, WritesHeadersAndACrlfBodyWithDotsStuffed) {
  const std::string text = Render({.from = "Acme <no-reply@acme.test>",
                                   .to = "ann@example.com",
                                   .subject = "Verify\r\nBcc: evil@example.com",
                                   .text = "Hello\n.\n.two\nend"});
  EXPECT_NE(text.find("From: Acme <no-reply@acme.test>\r\n"), std::string::npos);
  EXPECT_NE(text.find("To: ann@example.com\r\n"), std::string::npos);
  // A header value cannot add headers.
  EXPECT_NE(text.find("Subject: Verify  Bcc: evil@example.com\r\n"), std::string::npos);
  EXPECT_NE(text.find("Message-ID: <"), std::string::npos);
  EXPECT_NE(text.find("@acme.test>\r\n"), std::string::npos);
  EXPECT_TRUE(text.ends_with("\r\n\r\nHello\r\n..\r\n..two\r\nend\r\n"));
}

TEST(CaptureMailer, WritesOneFilePerMessage) {
  const auto dir = std::filesystem::temp_directory_path() / "strata_mail_capture_test";
  std::filesystem::remove_all(dir);
  auto mailer = MakeCaptureMailer(dir / "outbox");
  ASSERT_TRUE(mailer->Send({.from = "a@x.test", .to = "b@x.test", .subject = "one", .text = "1"}).ok());
  ASSERT_TRUE(mailer->Send({.from = "a@x.test", .to = "c@x.test", .subject = "two", .text = "2"}).ok());
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "outbox")) {
    EXPECT_EQ(e.path().extension(), ".eml");
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_NE(ss.str().find("Subject: "), std::string::npos);
    ++files;
  }
  EXPECT_EQ(files, 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace strata::mail
