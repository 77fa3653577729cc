-- GET one post by a random id from $IDS_FILE.
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(os.time() + (seed or 0) * 7919) end
function request()
  return wrk.format("GET", "/api/collections/posts/records/" .. ids[math.random(#ids)])
end
