// Validation of a collection definition against the others, with PocketBase's error codes.
// Stateless; thread-safe.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "schema/collection.hpp"
#include "util/status.hpp"

namespace strata::schema {

// Checks an API rule or filter against the collection; Ok or InvalidArgument with the reason.
using RuleChecker = std::function<util::Status(const Collection& collection, std::string_view rule)>;

// Validates `c` (a new collection when `old` is null, else the update of `old`) against the other
// collections of the database. Returns PocketBase's error map ({"name":{"code":…,"message":…},
// "fields":{"2":{"name":{…}}}}), empty when `c` is valid. `check_rule` may be empty.
boost::json::object Validate(const Collection& c, const Collection* old, const std::vector<const Collection*>& others,
                             const RuleChecker& check_rule);

}  // namespace strata::schema
