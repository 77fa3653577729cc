-- GET /api/health through a script, so that the load generator does the same per-request work
-- as for scripted endpoints (bench/wrk/view.lua) when the two are compared.
function request()
  return wrk.format("GET", "/api/health")
end
