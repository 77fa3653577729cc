-- An upload of the JPEG in $JPEG, then a GET of the new file's 100x100 thumbnail, in turn: what an
-- app does when a user posts a photo and the feed shows it.
local f = assert(io.open(os.getenv("JPEG"), "rb"))
local data = f:read("*a")
f:close()
local boundary = "----strata-bench-boundary"
local headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }
local body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n" ..
  "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
local thumbs = {}

request = function()
  local path = table.remove(thumbs)
  if path then return wrk.format("GET", path) end
  return wrk.format("POST", "/api/collections/photos/records", headers, body)
end

response = function(status, _, body)
  if status ~= 200 then return end
  local id = body:match('"id":"(%w+)"')
  local image = body:match('"image":"([^"]+)"')
  if id and image then
    table.insert(thumbs, "/api/files/photos/" .. id .. "/" .. image .. "?thumb=100x100")
  end
end
