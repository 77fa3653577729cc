#include "auth/superusers.hpp"

#include "auth/password.hpp"
#include "schema/collection.hpp"
#include "schema/values.hpp"

namespace strata::auth {

util::Status UpsertSuperuser(store::Store& store, std::string_view email, std::string_view password) {
  if (!schema::IsValidEmail(email)) return util::Status::InvalidArgument("invalid email address");
  if (password.size() < 8) return util::Status::InvalidArgument("the password must be at least 8 characters");
  if (password.size() > 71) return util::Status::InvalidArgument("the password must be at most 71 characters");
  auto hash = HashPassword(password);
  if (!hash) return hash.error();
  const std::string email_s(email);
  return store.WriteAndWait([&](store::Tx& tx) -> util::Status {
    const std::string now = schema::NowDateTime();
    auto found = tx.Query("SELECT `id` FROM `_superusers` WHERE `email` = ? COLLATE NOCASE", {email_s});
    if (!found) return found.error();
    util::Result<int64_t> r;
    if (found->rows.empty()) {
      r = tx.Exec(
          "INSERT INTO `_superusers` (`id`, `email`, `password`, `tokenKey`, `emailVisibility`, `verified`, "
          "`created`, `updated`) VALUES (?, ?, ?, ?, 0, 1, ?, ?)",
          {schema::NewId(), email_s, *hash, RandomSecret(50), now, now});
    } else {
      r = tx.Exec("UPDATE `_superusers` SET `password` = ?, `tokenKey` = ?, `updated` = ? WHERE `id` = ?",
                  {*hash, RandomSecret(50), now, found->rows[0][0]});
    }
    return r ? util::Status::Ok() : r.error();
  });
}

}  // namespace strata::auth
