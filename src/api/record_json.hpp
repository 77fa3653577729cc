// Records as the API shows them: typed JSON built from a table row, hidden fields left out.
// Stateless; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <span>
#include <string>
#include <vector>

#include "schema/collection.hpp"
#include "store/store.hpp"

namespace strata::api {

struct RecordJsonOptions {
  bool show_hidden = false;  // superusers may ask for hidden fields (never password and tokenKey)
  bool show_email = false;   // the owner and superusers see the email whatever emailVisibility says
};

// {"collectionId":…,"collectionName":…,<fields in order>} from one row of `rs` (selected with the
// collection's columns by name).
boost::json::object RecordToJson(const schema::Collection& c, const store::ResultSet& rs,
                                 const std::vector<util::SqlValue>& row, const RecordJsonOptions& options);

// Appends to `out` the same JSON text as serializing RecordToJson(c, rs, row, options), without
// building the object: the hot path of lists and views. Column positions and the text of the keys
// are worked out once.
class RecordJsonWriter {
 public:
  RecordJsonWriter(const schema::Collection& c, const std::vector<std::string>& columns);
  RecordJsonWriter(const schema::Collection& c, const store::ResultSet& rs) : RecordJsonWriter(c, rs.columns) {}
  void Append(std::string& out, std::span<const store::ColumnRef> row, const RecordJsonOptions& options) const;
  void Append(std::string& out, const std::vector<util::SqlValue>& row, const RecordJsonOptions& options) const;

 private:
  enum class Kind : uint8_t { kText, kNumber, kBool, kOther };
  struct Column {
    const schema::Field* field;
    std::size_t index;  // in the row
    std::string key;    // ,"name":
    Kind kind;
    bool hidden;  // shown only with show_hidden
    bool email;   // the email of an auth record: shown as emailVisibility and the options say
  };
  const schema::Collection& c_;
  std::string head_;  // {"collectionId":…,"collectionName":…
  std::vector<Column> columns_;
  int email_visibility_ = -1;
};

// The JSON value of one column of a field.
boost::json::value FieldValueToJson(const schema::Field& field, const util::SqlValue& value);

}  // namespace strata::api
