-- wrk script for `cargo xtask bench-stack`: every connection is one user of
-- the todo app, taking turns through the page, the task list, a new task, a
-- chat message and, every 100th request, a login (argon2, the costliest).
-- The users were signed up before the run; wrk.users names the file with one
-- "name password token" line per user. Counts each status and prints
-- "bench key value" lines for the xtask to read.

local users = {}
local threads = {}
local counter = 0
statuses = {} -- global: done() reads each thread's copy with thread:get

local function load_users(path)
  local list = {}
  for line in io.lines(path) do
    local name, password, token = line:match("^(%S+) (%S+) (%S+)$")
    if name then list[#list + 1] = { name = name, password = password, token = token } end
  end
  return list
end

function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  users = load_users(args[1])
end

local function json_request(method, path, token, body)
  local headers = { ["Content-Type"] = "application/json" }
  if token then headers["Authorization"] = "Bearer " .. token end
  return wrk.format(method, path, headers, body)
end

function request()
  counter = counter + 1
  local user = users[(counter % #users) + 1]
  if counter % 100 == 0 then
    return json_request("POST", "/api/auth/login", nil,
      string.format('{"username":"%s","password":"%s"}', user.name, user.password))
  end
  local step = counter % 5
  if step == 0 then
    return wrk.format("GET", "/")
  elseif step == 1 then
    return json_request("GET", "/api/tasks", user.token)
  elseif step == 2 then
    return json_request("POST", "/api/tasks", user.token,
      string.format('{"title":"bench task %d-%d"}', id, counter))
  elseif step == 3 then
    return json_request("POST", "/api/chat", user.token, '{"message":"list"}')
  end
  return json_request("GET", "/api/auth/me", user.token)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do all[status] = (all[status] or 0) + n end
  end
  for status, n in pairs(all) do io.write(string.format("bench status %d %d\n", status, n)) end
  io.write(string.format("bench requests %d\n", summary.requests))
  io.write(string.format("bench duration_us %d\n", summary.duration))
  for _, kind in ipairs({ "connect", "read", "write", "timeout" }) do
    io.write(string.format("bench error_%s %d\n", kind, summary.errors[kind]))
  end
  for _, p in ipairs({ 50, 95, 99 }) do
    io.write(string.format("bench p%d_us %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("bench max_us %d\n", latency.max))
end
