#include "schema/index.hpp"

#include <cctype>

namespace strata::schema {
namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= s_.size();
  }
  // Consumes a case-insensitive keyword followed by a non-identifier character.
  bool Keyword(std::string_view kw) {
    SkipSpace();
    if (s_.size() - pos_ < kw.size()) return false;
    for (std::size_t i = 0; i < kw.size(); ++i) {
      if (std::toupper(static_cast<unsigned char>(s_[pos_ + i])) != kw[i]) return false;
    }
    const std::size_t end = pos_ + kw.size();
    if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_')) return false;
    pos_ = end;
    return true;
  }
  bool Char(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::optional<std::string> Identifier() {
    SkipSpace();
    if (pos_ >= s_.size()) return std::nullopt;
    const char open = s_[pos_];
    char close = 0;
    if (open == '`') close = '`';
    if (open == '"') close = '"';
    if (open == '[') close = ']';
    if (close) {
      const auto end = s_.find(close, pos_ + 1);
      if (end == std::string_view::npos) return std::nullopt;
      std::string id(s_.substr(pos_ + 1, end - pos_ - 1));
      pos_ = end + 1;
      if (!IsPlainIdentifier(id)) return std::nullopt;
      return id;
    }
    const std::size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
    if (pos_ == start) return std::nullopt;
    return std::string(s_.substr(start, pos_ - start));
  }
  // Consumes and returns the rest of the input.
  std::string_view Rest() {
    SkipSpace();
    auto rest = s_.substr(pos_);
    pos_ = s_.size();
    return rest;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

bool IsPlainIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::optional<Index> ParseIndex(std::string_view sql) {
  Scanner sc(sql);
  Index idx;
  if (!sc.Keyword("CREATE")) return std::nullopt;
  idx.unique = sc.Keyword("UNIQUE");
  if (!sc.Keyword("INDEX")) return std::nullopt;
  if (sc.Keyword("IF")) {
    if (!sc.Keyword("NOT") || !sc.Keyword("EXISTS")) return std::nullopt;
  }
  auto name = sc.Identifier();
  if (!name) return std::nullopt;
  idx.name = std::move(*name);
  if (!sc.Keyword("ON")) return std::nullopt;
  auto table = sc.Identifier();
  if (!table) return std::nullopt;
  idx.table = std::move(*table);
  if (!sc.Char('(')) return std::nullopt;
  do {
    IndexColumn col;
    auto col_name = sc.Identifier();
    if (!col_name) return std::nullopt;
    col.name = std::move(*col_name);
    if (sc.Keyword("COLLATE")) {
      auto collate = sc.Identifier();
      if (!collate) return std::nullopt;
      col.collate = std::move(*collate);
    }
    if (sc.Keyword("DESC")) {
      col.descending = true;
    } else {
      (void)sc.Keyword("ASC");
    }
    idx.columns.push_back(std::move(col));
  } while (sc.Char(','));
  if (!sc.Char(')')) return std::nullopt;
  if (sc.Keyword("WHERE")) {
    std::string_view where = sc.Rest();
    while (!where.empty() && (where.back() == ' ' || where.back() == '\n' || where.back() == '\t')) where.remove_suffix(1);
    if (where.empty() || where.find(';') != std::string_view::npos) return std::nullopt;
    idx.where = std::string(where);
  }
  while (sc.Char(';')) {
  }
  if (!sc.AtEnd()) return std::nullopt;
  return idx;
}

std::string IndexSql(const Index& index) {
  std::string out = index.unique ? "CREATE UNIQUE INDEX `" : "CREATE INDEX `";
  out += index.name;
  out += "` ON `";
  out += index.table;
  out += "` (";
  for (std::size_t i = 0; i < index.columns.size(); ++i) {
    const auto& c = index.columns[i];
    if (i) out += ", ";
    out += '`';
    out += c.name;
    out += '`';
    if (!c.collate.empty()) {
      out += " COLLATE ";
      out += c.collate;
    }
    if (c.descending) out += " DESC";
  }
  out += ')';
  if (!index.where.empty()) {
    out += " WHERE ";
    out += index.where;
  }
  return out;
}

}  // namespace strata::schema
