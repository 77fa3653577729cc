-- GET one post by a random id from $IDS_FILE. Each thread formats every request once, in init, so
-- that the load generator spends its time sending them rather than building them.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
local requests = {}
function init(args)
  math.randomseed(os.time() + (seed or 0) * 7919)
  for i, id in ipairs(ids) do requests[i] = wrk.format("GET", "/api/collections/posts/records/" .. id) end
end
function request() return requests[math.random(#requests)] end
