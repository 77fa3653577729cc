-- POST a multipart upload of the JPEG in $JPEG to the photos collection.
local f = assert(io.open(os.getenv("JPEG"), "rb"))
local data = f:read("*a")
f:close()
local boundary = "----strata-bench-boundary"
wrk.method = "POST"
wrk.path = "/api/collections/photos/records"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nbench\r\n" ..
  "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n" ..
  "Content-Type: image/jpeg\r\n\r\n" .. data .. "\r\n--" .. boundary .. "--\r\n"
