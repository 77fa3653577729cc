-- POST a new post (a durable create).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"title":"benchmark post ' .. n .. '","status":"active","like_count":1,"body":"created under load"}')
end
