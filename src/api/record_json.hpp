// Records as the API shows them: typed JSON built from a table row, hidden fields left out.
// Stateless; thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "api/record_change.hpp"
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

// The change event `action` of the first row of `rs`, a record of `c` as stored: every field,
// hidden ones and the email included.
RecordChange ChangeOf(const char* action, const schema::Collection& c, const store::ResultSet& rs);

// Adds record `id` of `c` as the transaction `tx` sees it now to `changes`, as `action`, with every
// field (hidden ones and the email included), as change events carry records. Nothing when it is
// not there.
util::Status AddRecordChange(store::Tx& tx, const schema::Collection& c, const char* action, const std::string& id,
                             std::vector<RecordChange>& changes);

// The completion of a store write whose record changes (`changes`, filled inside its transaction)
// are to be published: on the writer, once the commit is durable and before the next commit is
// known, they go to `publish` (when the write succeeded); then `done` is called.
std::function<void(util::Status)> PublishThen(const RecordChangeSink& publish,
                                              std::shared_ptr<std::vector<RecordChange>> changes,
                                              std::function<void(util::Status)> done);

// The JSON value of one column of a field.
boost::json::value FieldValueToJson(const schema::Field& field, const util::SqlValue& value);

}  // namespace strata::api
