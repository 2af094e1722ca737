-- wrk script of bench/reads.py: every request asks for a random package.
--
--   wrk ... -s bench/random_package.lua URL -- NAMES_FILE PREFIX [SUFFIX]
--
-- NAMES_FILE holds one package name a line; each request is PREFIX .. name .. SUFFIX, the name
-- drawn uniformly at random (with replacement) on every request, with a different seed per thread.

local names = {}
local prefix, suffix = "/", ""
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then names[#names + 1] = line end
  end
  prefix = args[2]
  suffix = args[3] or ""
  math.randomseed(os.time() * 7919 + (thread_id or 0) * 104729)
  for _ = 1, 10 do math.random() end
end

function request()
  return wrk.format(nil, prefix .. names[math.random(#names)] .. suffix)
end
