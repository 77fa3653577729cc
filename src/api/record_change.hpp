// A committed record change, as realtime publishes it to its subscribers.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace strata::api {

struct RecordChange {
  std::string action;  // "create", "update", "delete"
  std::string collection_id;
  // The record's JSON text, every field as stored (hidden ones and the email included; never
  // password or tokenKey); for a delete, the record as it was.
  std::string record;
};

// Called with the changes of each committed write, in commit order, after the commit is durable.
using RecordChangeSink = std::function<void(std::vector<RecordChange>)>;

}  // namespace strata::api
