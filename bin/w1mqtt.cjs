#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1 --heap-growing-percent=25
'use strict';
// A w1 read sleeps in the kernel for the whole conversion (up to 750 ms) on one of libuv's
// thread-pool threads, 4 by default: with a few busy buses nothing would be left for config
// reloads, DNS or state files. libuv sizes the pool on first use, and an ES module entry is
// itself read through the pool, so the size is set here, in a CommonJS file, before any
// import. The scheduler keeps its blocking calls two below whatever size is in force.
// The #! line's flags are the memory settings every start uses (scripts/start.sh and
// package.json run this file; the systemd unit and the bench copy the line, and a test
// checks the unit): 1 MB young-generation semi-spaces, since the agent allocates steadily
// in small pieces and the default lets new space grow to tens of MB for no speed gained;
// one V8 helper thread instead of four; and old-space growth of 25 % per major GC instead
// of up to 4x, so the garbage promoted between GCs stays a few MB. The last two together
// took the peak RSS at 1000 sensors from 89-99 MB to 78 MB (README "Performance");
// none of them is a heap limit, so a long outage's queue cannot run V8 out of memory.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
import('../dist/main.js');
