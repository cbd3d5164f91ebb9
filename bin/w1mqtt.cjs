#!/usr/bin/env -S node --max-semi-space-size=1
'use strict';
// A w1 read sleeps in the kernel for the whole conversion (up to 750 ms) on one of libuv's
// thread-pool threads, 4 by default: with a few busy buses nothing would be left for config
// reloads, DNS or state files. libuv sizes the pool on first use, and an ES module entry is
// itself read through the pool, so the size is set here, in a CommonJS file, before any
// import. The scheduler keeps its blocking calls two below whatever size is in force.
// --max-semi-space-size=1 (in the #! line and in scripts/start.sh) keeps V8's young
// generation at 1 MB semi-spaces: the agent allocates steadily in small pieces, and the
// default lets it grow to tens of MB of RSS on a Pi for no speed gained.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
import('../dist/main.js');
