// Records as the API shows them: typed JSON built from a table row, hidden fields left out.
// Stateless; thread-safe.
#pragma once

#include <boost/json/object.hpp>
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
// building the object: the hot path of lists and views. Column positions are looked up once.
class RecordJsonWriter {
 public:
  RecordJsonWriter(const schema::Collection& c, const store::ResultSet& rs);
  void Append(std::string& out, const std::vector<util::SqlValue>& row, const RecordJsonOptions& options) const;

 private:
  const schema::Collection& c_;
  std::vector<int> columns_;  // per field of c_, its column in the result set or -1
  int email_visibility_ = -1;
};

// The JSON value of one column of a field.
boost::json::value FieldValueToJson(const schema::Field& field, const util::SqlValue& value);

}  // namespace strata::api
