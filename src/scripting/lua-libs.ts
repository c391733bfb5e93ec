/**
 * The Lua side of the scripting engine, run once per VM (src/scripting/lua-engine.ts):
 * Redis 7.0's sandbox (script_lua.c / eval.c / function_lua.c) rebuilt on Lua 5.4, the
 * Lua 5.1 idioms real scripts use, and Redis's bundled libraries (cjson, cmsgpack, bit,
 * struct) written in Lua 5.4 to Redis's behaviour.
 *
 * The chunk gets the table of C functions from the engine and returns the persistent
 * stack slots: error handler, real globals, function-env switch, cjson.null, helpers, store.
 */
export const BOOT_LUA = String.raw`
local C = ...
-- Lua 5.4 facilities the libraries need, captured before the sandbox hides them.
local spack, sunpack = string.pack, string.unpack
local mtype, mtointeger = math.type, math.tointeger
local tunpack, tconcat = table.unpack, table.concat
local dbg_getinfo, dbg_setupvalue = debug.getinfo, debug.setupvalue
local type, error, tostring, tonumber, select, next, pairs, ipairs = type, error, tostring, tonumber, select, next, pairs, ipairs
local rawget, rawset, rawequal, setmetatable, getmetatable, load = rawget, rawset, rawequal, setmetatable, getmetatable, load
local pcall0, collectgarbage = pcall, collectgarbage
local sfmt, schar, sbyte, ssub, srep, sfind, sgsub, slower = string.format, string.char, string.byte, string.sub, string.rep, string.find, string.gsub, string.lower
local mfloor, mceil, mhuge, mabs = math.floor, math.ceil, math.huge, math.abs
local rawtostring = tostring

-- An error positioned at the script line that called into a library (what luaL_error
-- gives Redis's C libraries): the first frame that is neither C nor this boot chunk.
local function lib_error(msg)
  local level = 2
  while true do
    local i = dbg_getinfo(level, 'Sl')
    if not i then break end
    if i.what ~= 'C' and i.source ~= '=boot' then
      error(i.short_src .. ':' .. i.currentline .. ': ' .. msg, 0)
    end
    level = level + 1
  end
  error(msg, 0)
end

---------------------------------------------------------------- Lua 5.1 compatibility
-- 5.1 prints every number with %.14g: 5.4 would print integral floats as "5.0".
local function num2str(v)
  if mtype(v) == 'float' then
    if v ~= v then return (sfmt('%f', v)) end
    return sfmt('%.14g', v)
  end
  return rawtostring(v)
end
local function tostring51(v)
  if type(v) == 'number' then return num2str(v) end
  return rawtostring(v)
end

-- 5.1's %d/%x/%c... accept any number (cast to an integer); %s prints numbers as above.
local INTCONV = { d = true, i = true, o = true, u = true, x = true, X = true, c = true }
local function format51(fmt, ...)
  local n = select('#', ...)
  local slow = false
  for i = 1, n do
    if mtype((select(i, ...))) == 'float' then slow = true break end
  end
  if not slow then return sfmt(fmt, ...) end
  local args = { ... }
  local pos, ai = 1, 0
  fmt = tostring51(fmt)
  while true do
    local s = sfind(fmt, '%', pos, true)
    if not s then break end
    if ssub(fmt, s + 1, s + 1) == '%' then
      pos = s + 2
    else
      local _, e, conv = sfind(fmt, '^[-+ #0]*%d*%.?%d*(%a)', s + 1)
      if not e then break end
      ai = ai + 1
      local v = args[ai]
      if mtype(v) == 'float' then
        if INTCONV[conv] then
          if v == v and v > -9.2233720368547758e18 and v < 9.2233720368547758e18 then
            args[ai] = mtointeger(v >= 0 and mfloor(v) or mceil(v))
          end
        elseif conv == 's' then
          args[ai] = num2str(v)
        end
      end
      pos = e + 1
    end
  end
  return sfmt(fmt, tunpack(args, 1, n))
end

math.mod = math.fmod
math.pow = function(x, y) return x ^ y end
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.frexp = function(x)
  if x == 0 or x ~= x or x == mhuge or x == -mhuge then return x, 0 end
  local e = mfloor(math.log(mabs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if mabs(m) >= 1 then m = m / 2; e = e + 1 elseif mabs(m) < 0.5 then m = m * 2; e = e - 1 end
  return m, e
end
math.cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end
math.sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end
math.tanh = function(x) local a, b = math.exp(x), math.exp(-x) return (a - b) / (a + b) end
math.log10 = function(x) return math.log(x, 10) end
math.random = C.random
math.randomseed = C.randomseed
string.gfind = string.gmatch
string.format = format51
table.getn = function(t) return #t end
table.setn = function() lib_error("'setn' is obsolete") end
table.maxn = function(t)
  local m = 0
  for k in next, t do if type(k) == 'number' and k > m then m = k end end
  return m
end
table.foreach = function(t, f)
  for k, v in next, t do local r = f(k, v) if r ~= nil then return r end end
end
table.foreachi = function(t, f)
  for i = 1, #t do local r = f(i, t[i]) if r ~= nil then return r end end
end
-- What 5.4 adds and Redis's 5.1 lacks.
table.unpack, table.pack, table.move = nil, nil, nil
math.tointeger, math.type, math.ult, math.maxinteger, math.mininteger = nil, nil, nil, nil, nil
string.pack, string.unpack, string.packsize = nil, nil, nil

---------------------------------------------------------------- read-only tables
local function readonly_error() error('Attempt to modify a readonly table', 2) end
local proxies = setmetatable({}, { __mode = 'k' })
local function readonly(t)
  local p = setmetatable({}, {
    __index = t, __newindex = readonly_error, __metatable = false,
    __pairs = function() return next, t, nil end, __len = function() return #t end,
  })
  proxies[p] = t
  return p
end
local function rawset51(t, k, v)
  if proxies[t] then error('Attempt to modify a readonly table', 2) end
  return rawset(t, k, v)
end
local function rawget51(t, k)
  local real = proxies[t]
  if real then return rawget(real, k) end
  return rawget(t, k)
end
local function next51(t, k)
  local real = proxies[t]
  return next(real or t, k)
end
local function pairs51(t)
  local real = proxies[t]
  if real then return next, real, nil end
  return pairs(t)
end

---------------------------------------------------------------- bit (LuaBitOp)
local bit = {}
do
  local function tobit(x, fname, argn)
    local n = tonumber(x)
    if n == nil then
      lib_error(sfmt("bad argument #%d to '%s' (number expected, got %s)", argn or 1, fname or 'tobit', x == nil and 'no value' or type(x)))
    end
    if mtype(n) == 'float' then
      if n ~= n or n == mhuge or n == -mhuge then return 0 end
      -- LuaBitOp adds 2^52+2^51: round to nearest, ties to even.
      local f = mfloor(n)
      local d = n - f
      if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
      n = f % 4294967296
      n = mtointeger(n)
    else
      n = n & 0xffffffff
    end
    if n >= 0x80000000 then n = n - 0x100000000 end
    return n
  end
  local function norm(n)
    n = n & 0xffffffff
    if n >= 0x80000000 then n = n - 0x100000000 end
    return n
  end
  bit.tobit = function(x) return tobit(x, 'tobit', 1) end
  bit.bnot = function(x) return norm(~tobit(x, 'bnot', 1)) end
  local function variadic(name, op)
    return function(x, ...)
      local r = tobit(x, name, 1)
      for i = 1, select('#', ...) do r = op(r, tobit((select(i, ...)), name, i + 1)) end
      return norm(r)
    end
  end
  bit.band = variadic('band', function(a, b) return a & b end)
  bit.bor = variadic('bor', function(a, b) return a | b end)
  bit.bxor = variadic('bxor', function(a, b) return a ~ b end)
  bit.lshift = function(x, n) return norm((tobit(x, 'lshift', 1) & 0xffffffff) << (tobit(n, 'lshift', 2) & 31)) end
  bit.rshift = function(x, n) return norm((tobit(x, 'rshift', 1) & 0xffffffff) >> (tobit(n, 'rshift', 2) & 31)) end
  bit.arshift = function(x, n) return norm(tobit(x, 'arshift', 1) >> (tobit(n, 'arshift', 2) & 31) | (tobit(x) < 0 and ~(0xffffffff >> (tobit(n) & 31)) or 0)) end
  bit.rol = function(x, n)
    local b, s = tobit(x, 'rol', 1) & 0xffffffff, tobit(n, 'rol', 2) & 31
    return norm((b << s) | (b >> (32 - s)))
  end
  bit.ror = function(x, n)
    local b, s = tobit(x, 'ror', 1) & 0xffffffff, tobit(n, 'ror', 2) & 31
    return norm((b >> s) | (b << (32 - s)))
  end
  bit.bswap = function(x)
    local b = tobit(x, 'bswap', 1) & 0xffffffff
    return norm(((b >> 24) & 0xff) | ((b >> 8) & 0xff00) | ((b & 0xff00) << 8) | ((b & 0xff) << 24))
  end
  bit.tohex = function(x, n)
    local b = tobit(x, 'tohex', 1) & 0xffffffff
    n = n == nil and 8 or tobit(n, 'tohex', 2)
    local digits = '0123456789abcdef'
    if n < 0 then n = -n; digits = '0123456789ABCDEF' end
    if n > 8 then n = 8 end
    local out = {}
    for i = n, 1, -1 do
      local d = (b & 15) + 1
      out[i] = ssub(digits, d, d)
      b = b >> 4
    end
    return tconcat(out)
  end
end

---------------------------------------------------------------- cjson (lua-cjson 2.1, Redis's build)
local cjson = {}
local cjson_null
do
  local escapes = {}
  for i = 0, 31 do escapes[schar(i)] = sfmt('\\u%04x', i) end
  escapes['\b'] = '\\b'; escapes['\f'] = '\\f'; escapes['\n'] = '\\n'; escapes['\r'] = '\\r'; escapes['\t'] = '\\t'
  escapes['"'] = '\\"'; escapes['\\'] = '\\\\'; escapes['/'] = '\\/'; escapes['\127'] = '\\u007f'
  local function escape_str(s) return '"' .. sgsub(s, '[%c"\\/\127]', escapes) .. '"' end
  local max_depth, decode_max_depth = 1000, 1000
  local sparse_convert, sparse_ratio, sparse_safe = false, 2, 10

  local function encode_number(x)
    if x ~= x or x == mhuge or x == -mhuge then
      error('Cannot serialise number: must not be NaN or Inf', 0)
    end
    return sfmt('%.14g', x)
  end

  local encode_value
  local function array_length(t)
    local max, items = 0, 0
    for k in next, t do
      if type(k) == 'number' and k >= 1 and mfloor(k) == k then
        if k > max then max = k end
        items = items + 1
      else
        return -1
      end
    end
    if max > items * sparse_ratio and max > sparse_safe then
      if not sparse_convert then error('Cannot serialise table: excessively sparse array', 0) end
      return -1
    end
    return max
  end
  encode_value = function(v, depth, buf)
    local t = type(v)
    if t == 'string' then buf[#buf + 1] = escape_str(v)
    elseif t == 'number' then buf[#buf + 1] = encode_number(v)
    elseif t == 'boolean' then buf[#buf + 1] = v and 'true' or 'false'
    elseif t == 'nil' or rawequal(v, cjson_null) then buf[#buf + 1] = 'null'
    elseif t == 'table' then
      depth = depth + 1
      if depth > max_depth then error(sfmt('Cannot serialise, excessive nesting (%d)', depth), 0) end
      local len = array_length(v)
      if len > 0 then
        buf[#buf + 1] = '['
        for i = 1, len do
          if i > 1 then buf[#buf + 1] = ',' end
          encode_value(v[i], depth, buf)
        end
        buf[#buf + 1] = ']'
      else
        buf[#buf + 1] = '{'
        local first = true
        for k, val in next, v do
          if not first then buf[#buf + 1] = ',' end
          first = false
          local kt = type(k)
          if kt == 'string' then buf[#buf + 1] = escape_str(k)
          elseif kt == 'number' then buf[#buf + 1] = '"' .. encode_number(k) .. '"'
          else error('Cannot serialise table: table key must be a number or string', 0) end
          buf[#buf + 1] = ':'
          encode_value(val, depth, buf)
        end
        buf[#buf + 1] = '}'
      end
    else
      error('Cannot serialise ' .. t .. ': type not supported', 0)
    end
  end
  cjson.encode = function(...)
    if select('#', ...) ~= 1 then lib_error("bad argument #1 to 'encode' (expected 1 argument)") end
    local buf = {}
    local ok, err = pcall0(encode_value, (...), 0, buf)
    if not ok then lib_error(err) end
    return tconcat(buf)
  end

  -- decoding
  local function utf8char(c)
    if c < 0x80 then return schar(c)
    elseif c < 0x800 then return schar(0xc0 | (c >> 6), 0x80 | (c & 0x3f))
    elseif c < 0x10000 then return schar(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f))
    else return schar(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)) end
  end
  local function perr(what, found, pos)
    error(sfmt('Expected %s but found %s at character %d', what, found, pos), 0)
  end
  local decode_value
  local function skip(s, i)
    local _, e = sfind(s, '^[ \t\n\r]*', i)
    return e + 1
  end
  local function decode_string(s, i)
    -- s[i] == '"'
    local out, n = {}, 0
    local j = i + 1
    while true do
      local a, b = sfind(s, '["\\%c]', j)
      if not a then perr('value', 'invalid token', i) end
      if b > j then n = n + 1; out[n] = ssub(s, j, a - 1) end
      local c = sbyte(s, a)
      if c == 34 then return tconcat(out), a + 1 end
      if c ~= 92 then perr('value', 'invalid token', i) end
      local e = ssub(s, a + 1, a + 1)
      local simple = ({ b = '\b', f = '\f', n = '\n', r = '\r', t = '\t', ['"'] = '"', ['\\'] = '\\', ['/'] = '/' })[e]
      if simple then
        n = n + 1; out[n] = simple; j = a + 2
      elseif e == 'u' then
        local hex = ssub(s, a + 2, a + 5)
        local cp = #hex == 4 and sfind(hex, '^%x%x%x%x$') and tonumber(hex, 16)
        if not cp then perr('value', 'invalid token', i) end
        j = a + 6
        if cp >= 0xd800 and cp <= 0xdbff then
          local lo = ssub(s, j, j + 1) == '\\u' and tonumber(ssub(s, j + 2, j + 5), 16)
          if not lo or lo < 0xdc00 or lo > 0xdfff then perr('value', 'invalid token', i) end
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
          j = j + 6
        elseif cp >= 0xdc00 and cp <= 0xdfff then
          perr('value', 'invalid token', i)
        end
        n = n + 1; out[n] = utf8char(cp)
      else
        perr('value', 'invalid token', i)
      end
    end
  end
  local function decode_number(s, i)
    local _, e = sfind(s, '^-?[%d]+%.?[%d]*[eE]?[-+]?[%d]*', i)
    if not e then
      local _, e2 = sfind(s, '^-?[iI][nN][fF]', i) -- strtod accepts these; cjson refuses them
      perr('value', 'invalid token', i)
    end
    local text = ssub(s, i, e)
    local v = tonumber(text)
    if v == nil then perr('value', 'invalid number', i) end
    if mtype(v) == 'float' and mfloor(v) == v and v >= -9007199254740992 and v <= 9007199254740992 then
      v = mtointeger(v)
    end
    return v, e + 1
  end
  decode_value = function(s, i, depth)
    i = skip(s, i)
    local c = sbyte(s, i)
    if c == nil then perr('value', 'T_END', i) end
    if c == 123 then -- {
      depth = depth + 1
      if depth > decode_max_depth then error(sfmt('Found too many nested data structures (%d) at character %d', depth, i), 0) end
      local t = {}
      i = skip(s, i + 1)
      if sbyte(s, i) == 125 then return t, i + 1 end
      while true do
        i = skip(s, i)
        if sbyte(s, i) ~= 34 then perr('object key string', sbyte(s, i) and 'invalid token' or 'T_END', i) end
        local k
        k, i = decode_string(s, i)
        i = skip(s, i)
        if sbyte(s, i) ~= 58 then perr('colon', sbyte(s, i) and 'invalid token' or 'T_END', i) end
        local v
        v, i = decode_value(s, i + 1, depth)
        t[k] = v
        i = skip(s, i)
        local d = sbyte(s, i)
        if d == 125 then return t, i + 1 end
        if d ~= 44 then perr('comma or object end', d and 'invalid token' or 'T_END', i) end
        i = i + 1
      end
    elseif c == 91 then -- [
      depth = depth + 1
      if depth > decode_max_depth then error(sfmt('Found too many nested data structures (%d) at character %d', depth, i), 0) end
      local t, n = {}, 0
      i = skip(s, i + 1)
      if sbyte(s, i) == 93 then return t, i + 1 end
      while true do
        local v
        v, i = decode_value(s, i, depth)
        n = n + 1
        t[n] = v
        i = skip(s, i)
        local d = sbyte(s, i)
        if d == 93 then return t, i + 1 end
        if d ~= 44 then perr('comma or array end', d and 'invalid token' or 'T_END', i) end
        i = i + 1
      end
    elseif c == 34 then
      return decode_string(s, i)
    elseif c == 45 or (c >= 48 and c <= 57) then
      return decode_number(s, i)
    elseif ssub(s, i, i + 3) == 'true' then return true, i + 4
    elseif ssub(s, i, i + 4) == 'false' then return false, i + 5
    elseif ssub(s, i, i + 3) == 'null' then return cjson_null, i + 4
    end
    perr('value', 'invalid token', i)
  end
  cjson.decode = function(...)
    if select('#', ...) ~= 1 then lib_error("bad argument #1 to 'decode' (expected 1 argument)") end
    local s = ...
    if type(s) == 'number' then s = num2str(s) end
    if type(s) ~= 'string' then lib_error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ')') end
    local ok, v, i = pcall0(decode_value, s, 1, 0)
    if not ok then lib_error(v) end
    i = skip(s, i)
    if i <= #s then
      lib_error(sfmt('Expected the end but found invalid token at character %d', i))
    end
    return v
  end
  cjson.encode_sparse_array = function(convert, ratio, safe)
    if convert ~= nil then sparse_convert = convert and true or false end
    if ratio ~= nil then sparse_ratio = ratio end
    if safe ~= nil then sparse_safe = safe end
    return sparse_convert, sparse_ratio, sparse_safe
  end
  cjson.encode_max_depth = function(d) if d ~= nil then max_depth = d end return max_depth end
  cjson.decode_max_depth = function(d) if d ~= nil then decode_max_depth = d end return decode_max_depth end
  cjson.encode_number_precision = function() return 14 end
  cjson.encode_keep_buffer = function() return true end
  cjson.encode_invalid_numbers = function() return false end
  cjson.decode_invalid_numbers = function() return true end
  cjson._NAME = 'cjson'
  cjson._VERSION = '2.1.0'
end

---------------------------------------------------------------- cmsgpack (lua_cmsgpack 0.4.0)
local cmsgpack = {}
do
  local MAX_NESTING = 16
  local function is_int(n) return n == n and n ~= mhuge and n ~= -mhuge and mfloor(n) == n and n >= -9.2233720368547758e18 and n < 9.2233720368547758e18 end
  local encode
  local function encode_int(n, buf)
    n = mtointeger(n)
    if n >= 0 then
      if n <= 127 then buf[#buf + 1] = schar(n)
      elseif n <= 0xff then buf[#buf + 1] = spack('>BB', 0xcc, n)
      elseif n <= 0xffff then buf[#buf + 1] = spack('>BI2', 0xcd, n)
      elseif n <= 0xffffffff then buf[#buf + 1] = spack('>BI4', 0xce, n)
      else buf[#buf + 1] = spack('>Bi8', 0xcf, n) end
    else
      if n >= -32 then buf[#buf + 1] = schar(n & 0xff)
      elseif n >= -128 then buf[#buf + 1] = spack('>Bi1', 0xd0, n)
      elseif n >= -32768 then buf[#buf + 1] = spack('>Bi2', 0xd1, n)
      elseif n >= -2147483648 then buf[#buf + 1] = spack('>Bi4', 0xd2, n)
      else buf[#buf + 1] = spack('>Bi8', 0xd3, n) end
    end
  end
  local function is_array(t)
    local count, max = 0, 0
    for k in next, t do
      if type(k) == 'number' and k > 0 and mfloor(k) == k then
        if k > max then max = k end
        count = count + 1
      else
        return false
      end
    end
    return max == count
  end
  encode = function(v, level, buf)
    local t = type(v)
    if t == 'string' then
      local len = #v
      if len < 32 then buf[#buf + 1] = schar(0xa0 | len)
      elseif len <= 0xff then buf[#buf + 1] = spack('>BB', 0xd9, len)
      elseif len <= 0xffff then buf[#buf + 1] = spack('>BI2', 0xda, len)
      else buf[#buf + 1] = spack('>BI4', 0xdb, len) end
      buf[#buf + 1] = v
    elseif t == 'boolean' then buf[#buf + 1] = v and '\xc3' or '\xc2'
    elseif t == 'number' then
      if is_int(v) then encode_int(v, buf)
      else
        local f = sunpack('<f', spack('<f', v))
        if f == v or (v ~= v) then buf[#buf + 1] = spack('>Bf', 0xca, v)
        else buf[#buf + 1] = spack('>Bd', 0xcb, v) end
      end
    elseif t == 'table' and level < MAX_NESTING then
      if is_array(v) then
        local len = #v
        if len <= 15 then buf[#buf + 1] = schar(0x90 | len)
        elseif len <= 0xffff then buf[#buf + 1] = spack('>BI2', 0xdc, len)
        else buf[#buf + 1] = spack('>BI4', 0xdd, len) end
        for i = 1, len do encode(v[i], level + 1, buf) end
      else
        local len = 0
        for _ in next, v do len = len + 1 end
        if len <= 15 then buf[#buf + 1] = schar(0x80 | len)
        elseif len <= 0xffff then buf[#buf + 1] = spack('>BI2', 0xde, len)
        else buf[#buf + 1] = spack('>BI4', 0xdf, len) end
        for k, val in next, v do
          encode(k, level + 1, buf)
          encode(val, level + 1, buf)
        end
      end
    else
      buf[#buf + 1] = '\xc0'
    end
  end
  cmsgpack.pack = function(...)
    local n = select('#', ...)
    if n == 0 then lib_error('MessagePack pack needs input.') end
    local buf = {}
    for i = 1, n do encode((select(i, ...)), 0, buf) end
    return tconcat(buf)
  end

  local function need(s, pos, n)
    if pos + n - 1 > #s then error('Missing bytes in input.', 0) end
  end
  local decode
  local function decode_n(s, pos, n, as_map)
    local t = {}
    for i = 1, n do
      if as_map then
        local k, v
        k, pos = decode(s, pos)
        v, pos = decode(s, pos)
        if k ~= nil then t[k] = v end
      else
        t[i], pos = decode(s, pos)
      end
    end
    return t, pos
  end
  local function num(v)
    if mtype(v) == 'float' and is_int(v) and mabs(v) <= 9007199254740992 then return mtointeger(v) end
    return v
  end
  decode = function(s, pos)
    need(s, pos, 1)
    local c = sbyte(s, pos)
    pos = pos + 1
    if c <= 0x7f then return c, pos end
    if c >= 0xe0 then return c - 256, pos end
    if c >= 0xa0 and c <= 0xbf then local n = c & 0x1f need(s, pos, n) return ssub(s, pos, pos + n - 1), pos + n end
    if c >= 0x90 and c <= 0x9f then return decode_n(s, pos, c & 0xf, false) end
    if c >= 0x80 and c <= 0x8f then return decode_n(s, pos, c & 0xf, true) end
    if c == 0xc0 then return nil, pos end
    if c == 0xc2 then return false, pos end
    if c == 0xc3 then return true, pos end
    if c == 0xcc then need(s, pos, 1) return sunpack('>B', s, pos) end
    if c == 0xcd then need(s, pos, 2) return sunpack('>I2', s, pos) end
    if c == 0xce then need(s, pos, 4) return sunpack('>I4', s, pos) end
    if c == 0xcf then need(s, pos, 8) local v, p = sunpack('>I8', s, pos) if v < 0 then v = v + 18446744073709551616.0 end return v, p end
    if c == 0xd0 then need(s, pos, 1) return sunpack('>i1', s, pos) end
    if c == 0xd1 then need(s, pos, 2) return sunpack('>i2', s, pos) end
    if c == 0xd2 then need(s, pos, 4) return sunpack('>i4', s, pos) end
    if c == 0xd3 then need(s, pos, 8) return sunpack('>i8', s, pos) end
    if c == 0xca then need(s, pos, 4) local v, p = sunpack('>f', s, pos) return num(v), p end
    if c == 0xcb then need(s, pos, 8) local v, p = sunpack('>d', s, pos) return num(v), p end
    if c == 0xd9 or c == 0xc4 then need(s, pos, 1) local n = sbyte(s, pos) pos = pos + 1 need(s, pos, n) return ssub(s, pos, pos + n - 1), pos + n end
    if c == 0xda or c == 0xc5 then need(s, pos, 2) local n = sunpack('>I2', s, pos) pos = pos + 2 need(s, pos, n) return ssub(s, pos, pos + n - 1), pos + n end
    if c == 0xdb or c == 0xc6 then need(s, pos, 4) local n = sunpack('>I4', s, pos) pos = pos + 4 need(s, pos, n) return ssub(s, pos, pos + n - 1), pos + n end
    if c == 0xdc then need(s, pos, 2) return decode_n(s, pos + 2, sunpack('>I2', s, pos), false) end
    if c == 0xdd then need(s, pos, 4) return decode_n(s, pos + 4, sunpack('>I4', s, pos), false) end
    if c == 0xde then need(s, pos, 2) return decode_n(s, pos + 2, sunpack('>I2', s, pos), true) end
    if c == 0xdf then need(s, pos, 4) return decode_n(s, pos + 4, sunpack('>I4', s, pos), true) end
    error('Bad data format in input.', 0)
  end
  local function unpack_full(s, limit, offset)
    if type(s) == 'number' then s = num2str(s) end
    if type(s) ~= 'string' then lib_error("bad argument #1 to 'unpack' (string expected, got " .. type(s) .. ')') end
    offset = offset or 0
    if offset < 0 or limit < 0 then lib_error('Invalid request to unpack with offset of ' .. offset .. ' and limit of ' .. limit .. '.') end
    local pos = offset + 1
    local out, n = {}, 0
    while pos <= #s and (limit == 0 or n < limit) do
      local ok, v, p = pcall0(decode, s, pos)
      if not ok then lib_error(v) end
      n = n + 1
      out[n] = v
      pos = p
    end
    return out, n, pos
  end
  cmsgpack.unpack = function(s)
    local out, n = unpack_full(s, 0, 0)
    return tunpack(out, 1, n)
  end
  cmsgpack.unpack_one = function(s, offset)
    local out, n, pos = unpack_full(s, 1, offset)
    return (pos > #s) and -1 or pos - 1, tunpack(out, 1, n)
  end
  cmsgpack.unpack_limit = function(s, limit, offset)
    local out, n, pos = unpack_full(s, limit or 0, offset)
    return (pos > #s) and -1 or pos - 1, tunpack(out, 1, n)
  end
  cmsgpack._NAME = 'cmsgpack'
  cmsgpack._VERSION = 'lua-cmsgpack 0.4.0'
end

---------------------------------------------------------------- struct (Roberto Ierusalimschy's struct.c)
local struct = {}
do
  local SIZES = { b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1 }
  -- Walk a format: calls item(opt, size, endian, align) for each option.
  local function parse(fmt, item)
    local i, n = 1, #fmt
    local endian, maxalign = '<', 1
    while i <= n do
      local opt = ssub(fmt, i, i)
      i = i + 1
      local _, e, digits = sfind(fmt, '^(%d*)', i)
      local size = tonumber(digits)
      i = e + 1
      if opt == '<' or opt == '>' then endian = opt
      elseif opt == '=' then endian = '<'
      elseif opt == '!' then maxalign = size or 8
      elseif opt == ' ' then
      elseif opt == 'i' or opt == 'I' then
        size = size or 4
        if size > 8 then lib_error(sfmt('integral size %d is larger than limit of 8', size)) end
        item(opt, size, endian, maxalign)
      elseif opt == 'c' then item('c', size or 1, endian, maxalign)
      elseif opt == 's' then item('s', 0, endian, maxalign)
      elseif SIZES[opt] then item(opt, SIZES[opt], endian, maxalign)
      else lib_error("invalid format option '" .. opt .. "'") end
    end
  end
  local function pad(total, size, opt, align)
    local a = size
    if a > align then a = align end
    if opt == 'c' or opt == 's' or opt == 'x' then a = 1 end
    if a <= 1 then return 0 end
    return (a - (total % a)) % a
  end
  local function toint(v, argn)
    local n = tonumber(v)
    if n == nil then lib_error(sfmt("bad argument #%d to 'pack' (number expected, got %s)", argn, type(v))) end
    if mtype(n) == 'float' then
      if n ~= n or n >= 1.8446744073709552e19 or n <= -9.2233720368547758e18 then n = 0
      elseif n >= 9.2233720368547758e18 then n = mtointeger(n - 18446744073709551616.0) or 0
      else n = mtointeger(n >= 0 and mfloor(n) or mceil(n)) end
    end
    return n
  end
  struct.pack = function(fmt, ...)
    local args = { ... }
    local out, total, ai = {}, 0, 1
    parse(fmt, function(opt, size, endian, align)
      local p = pad(total, size, opt, align)
      if p > 0 then out[#out + 1] = srep('\0', p); total = total + p end
      if opt == 'x' then out[#out + 1] = '\0'; total = total + 1 return end
      local v = args[ai]
      ai = ai + 1
      local s
      if opt == 'f' or opt == 'd' then
        local n = tonumber(v)
        if n == nil then lib_error(sfmt("bad argument #%d to 'pack' (number expected, got %s)", ai, type(v))) end
        s = spack(endian .. opt, n)
      elseif opt == 'c' or opt == 's' then
        if type(v) == 'number' then v = num2str(v) end
        if type(v) ~= 'string' then lib_error(sfmt("bad argument #%d to 'pack' (string expected, got %s)", ai, type(v))) end
        if opt == 's' then s = v .. '\0'
        else
          if size == 0 then size = #v end
          if #v < size then lib_error(sfmt("bad argument #%d to 'pack' (string too short)", ai)) end
          s = ssub(v, 1, size)
        end
      else
        local n = toint(v, ai)
        local mask = size == 8 and -1 or ((1 << (size * 8)) - 1)
        s = spack(endian .. 'I' .. size, n & mask)
      end
      out[#out + 1] = s
      total = total + #s
    end)
    return tconcat(out)
  end
  struct.unpack = function(fmt, data, init)
    if type(data) == 'number' then data = num2str(data) end
    if type(data) ~= 'string' then lib_error("bad argument #2 to 'unpack' (string expected, got " .. type(data) .. ')') end
    local pos = (init or 1)
    local out, n = {}, 0
    parse(fmt, function(opt, size, endian, align)
      pos = pos + pad(pos - 1, size, opt, align)
      if opt == 'x' then pos = pos + 1 return end
      local v
      if opt == 's' then
        local e = sfind(data, '\0', pos, true)
        if not e then lib_error("unfinished string in data") end
        v = ssub(data, pos, e - 1)
        pos = e + 1
      elseif opt == 'c' then
        if size == 0 then
          if n == 0 or type(out[n]) ~= 'number' then lib_error("format 'c0' needs a previous size") end
          size = out[n]
          n = n - 1
        end
        if pos + size - 1 > #data then lib_error("bad argument #2 to 'unpack' (data string too short)") end
        v = ssub(data, pos, pos + size - 1)
        pos = pos + size
      else
        if pos + size - 1 > #data then lib_error("bad argument #2 to 'unpack' (data string too short)") end
        if opt == 'f' or opt == 'd' then v = sunpack(endian .. opt, data, pos)
        elseif opt == 'I' or opt == 'B' or opt == 'H' or opt == 'L' or opt == 'T' then
          v = sunpack(endian .. 'I' .. size, data, pos)
          if v < 0 then v = v + 18446744073709551616.0 end
        else v = sunpack(endian .. 'i' .. size, data, pos) end
        pos = pos + size
      end
      n = n + 1
      out[n] = v
    end)
    n = n + 1
    out[n] = pos
    return tunpack(out, 1, n)
  end
  struct.size = function(fmt)
    local total = 0
    parse(fmt, function(opt, size, endian, align)
      if opt == 's' or (opt == 'c' and size == 0) then lib_error("options 'c0' - 's' have undefined sizes") end
      total = total + pad(total, size, opt, align) + size
    end)
    return total
  end
end

---------------------------------------------------------------- compiled functions, by integer id
local store, free = {}, {}
local tremove = table.remove
local function ref(v)
  local id = #free > 0 and tremove(free) or #store + 1
  store[id] = v
  return id
end
local function unref(id) store[id] = false; free[#free + 1] = id end

---------------------------------------------------------------- the redis table
local function errbuff(e)
  local code, msg = 'ERR', e
  if sbyte(e, 1) == 45 then
    local sp = sfind(e, ' ', 1, true)
    if sp then code = ssub(e, 2, sp - 1); msg = ssub(e, sp + 1) else msg = ssub(e, 2) end
  end
  msg = sgsub(sgsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  return code .. ' ' .. msg
end

local function make_redis(mode)
  local r = {
    call = C.call, pcall = C.pcall, sha1hex = C.sha1hex, log = C.log, setresp = C.setresp, set_repl = C.set_repl,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
    REDIS_VERSION = '7.0.15', REDIS_VERSION_NUM = 458767,
  }
  r.error_reply = function(...)
    if select('#', ...) ~= 1 or type((...)) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
    local e = ...
    if sbyte(e, 1) ~= 45 then e = '-' .. e end
    return { err = errbuff(e) }
  end
  r.status_reply = function(...)
    if select('#', ...) ~= 1 or type((...)) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
    return { ok = (...) }
  end
  r.replicate_commands = function() return true end
  r.breakpoint = function() return false end
  r.debug = function() end
  r.acl_check_cmd = function(...)
    if select('#', ...) == 0 then error({ err = 'ERR Please specify at least one argument for this redis lib call' }) end
    return true
  end
  r.register_function = function(...)
    return C.register_function(...)
  end
  if mode == 'load' then
    -- FUNCTION LOAD time: only registration, logging and constants (function_lua.c).
    local store_fn = r.register_function
    r = {
      log = C.log, LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
      REDIS_VERSION = '7.0.15', REDIS_VERSION_NUM = 458767,
      setresp = C.setresp,
    }
    r.register_function = function(...)
      local n = select('#', ...)
      local name, callback, flags, description
      local function fail(msg) error({ err = 'ERR ' .. msg }) end
      if n == 1 then
        local t = ...
        if type(t) ~= 'table' then
          fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
        end
        for k, v in next, t do
          if k == 'function_name' then
            if type(v) ~= 'string' then fail('function_name argument given to redis.register_function must be a string') end
            name = v
          elseif k == 'callback' then
            if type(v) ~= 'function' then fail('callback argument given to redis.register_function must be a function') end
            callback = v
          elseif k == 'flags' then
            if type(v) ~= 'table' then fail('flags argument to redis.register_function must be a table representing function flags') end
            flags = v
          elseif k == 'description' then
            if type(v) ~= 'string' then fail('description argument given to redis.register_function must be a string') end
            description = v
          else
            fail('unknown argument given to redis.register_function')
          end
        end
        if name == nil then fail('redis.register_function must get a function name argument') end
        if callback == nil then fail('redis.register_function must get a callback argument') end
      elseif n == 2 then
        name, callback = ...
        if type(name) ~= 'string' then fail('first argument to redis.register_function must be a string') end
        if type(callback) ~= 'function' then fail('second argument to redis.register_function must be a function') end
      else
        fail('wrong number of arguments to redis.register_function')
      end
      return store_fn(name, ref(callback), flags, description)
    end
    setmetatable(r, { __index = function(_, k)
      error("Script attempted to access nonexistent global variable '" .. tostring51(k) .. "'", 2)
    end })
  end
  return r
end

---------------------------------------------------------------- pcall and the error handler
-- Redis 7's pcall returns an error table's err string (luaRedisPcall).
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then e = m end
  end
  return false, e
end
local function pcall51(f, ...) return pcall_result(pcall0(f, ...)) end

local function errh(err)
  -- Redis's handler reports the caller of a C function; this VM's sandbox functions are Lua
  -- functions of the boot chunk, so skip those frames too.
  local level = 2
  local i = dbg_getinfo(level, 'nSl')
  while i and (i.source == '=boot' or i.what == 'C') do level = level + 1; i = dbg_getinfo(level, 'nSl') end
  if type(err) ~= 'table' then
    local msg = tostring51(err)
    if type(err) == 'string' then
      -- 5.4: "attempt to index a nil value (field 'x')"; 5.1: "attempt to index field 'x' (a nil value)"
      msg = sgsub(msg, "attempt to ([%a ]-) an? (%a+) value %((%a+) '(.-)'%)", "attempt to %1 %3 '%4' (a %2 value)")
    end
    err = { err = 'ERR ' .. msg }
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end

---------------------------------------------------------------- globals
local function build_globals(redis_tbl, G)
  local real = {}
  real.assert = assert
  real.collectgarbage = collectgarbage
  real.error = error
  real.getmetatable = getmetatable
  real.ipairs = ipairs
  real.next = next51
  real.pairs = pairs51
  real.pcall = pcall51
  real.rawequal = rawequal
  real.rawget = rawget51
  real.rawset = rawset51
  real.select = select
  real.setmetatable = function(t, mt)
    if proxies[t] then error('Attempt to modify a readonly table', 0) end
    return setmetatable(t, mt)
  end
  real.tonumber = tonumber
  real.tostring = tostring51
  real.type = type
  real.xpcall = xpcall
  real.unpack = tunpack
  real.gcinfo = function() return mfloor(collectgarbage('count')) end
  real._VERSION = 'Lua 5.1'
  real.loadstring = function(s, chunkname)
    if type(s) ~= 'string' then error("bad argument #1 to 'loadstring' (string expected, got " .. type(s) .. ')', 2) end
    return load(s, chunkname or s, 't', G)
  end
  real.load = function(chunk, chunkname)
    return load(chunk, chunkname or '=(load)', 't', G)
  end
  real.coroutine = readonly(coroutine)
  real.string = readonly(string)
  real.table = readonly(table)
  real.math = readonly(math)
  real.cjson = readonly(cjson)
  real.bit = readonly(bit)
  real.struct = readonly(struct)
  real.cmsgpack = readonly(cmsgpack)
  real.redis = readonly(redis_tbl)
  real._G = G
  setmetatable(real, { __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring51(k) .. "'", 2)
  end })
  return real
end

-- EVAL: one read-only global table for every script; KEYS/ARGV live in 'real'.
local G = {}
local real = build_globals(make_redis('eval'), G)
proxies[G] = real
setmetatable(G, { __index = real, __newindex = readonly_error, __metatable = false })

-- Functions: their own globals, whose __index is switched between the load-time API and
-- the runtime one (function_lua.c).
local FG = {}
local freal = build_globals(make_redis('function'), FG)
proxies[FG] = freal
local fload = build_globals(make_redis('load'), FG)
local fmeta = { __index = freal, __newindex = readonly_error, __metatable = false }
setmetatable(FG, fmeta)

-- Strings' methods ("abc"):upper() must not reach a writable string table either.
getmetatable('').__index = real.string
getmetatable('').__metatable = false

cjson_null = C.newnull()
cjson.null = cjson_null

-- Library functions written in Lua are called through C closures (C.wrap), as Redis's are C.
local wrapped = {}
local function wrap_all(t)
  for k, v in next, t do
    if type(v) == 'function' and not wrapped[v] then
      local w = C.wrap(v)
      wrapped[w] = true
      t[k] = w
    end
  end
end
for _, t in ipairs({ cjson, cmsgpack, bit, struct, string, table, math }) do wrap_all(t) end

-- Remove what Redis does not offer; the boot chunk's own upvalues keep what it needs.
for _, k in ipairs({ 'os', 'io', 'package', 'require', 'dofile', 'loadfile', 'print', 'debug', 'utf8', 'rawlen', 'warn' }) do
  _G[k] = nil
end

local helpers = {
  seteval = function(fn) dbg_setupvalue(fn, 1, G) return fn end,
  setfunc = function(fn) dbg_setupvalue(fn, 1, FG) return fn end,
  ref = ref,
  unref = unref,
  loadapi = function() fmeta.__index = fload end,
  runtime = function() fmeta.__index = freal end,
  gc = function() collectgarbage('collect') end,
}
return errh, real, FG, cjson_null, helpers, store
`;
