// Records as the API shows them: typed JSON built from a table row, hidden fields left out.
// Stateless; thread-safe.
#pragma once

#include <boost/json/object.hpp>
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

// The JSON value of one column of a field.
boost::json::value FieldValueToJson(const schema::Field& field, const util::SqlValue& value);

}  // namespace strata::api
