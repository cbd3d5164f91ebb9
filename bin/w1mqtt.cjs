#!/usr/bin/env node
'use strict';
// A w1 read sleeps in the kernel for the whole conversion (up to 750 ms) on one of libuv's
// thread-pool threads, 4 by default: with a few busy buses nothing would be left for config
// reloads, DNS or state files. libuv sizes the pool on first use, and an ES module entry is
// itself read through the pool, so the size is set here, in a CommonJS file, before any
// import. The scheduler keeps its blocking calls two below whatever size is in force.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
import('../dist/main.js');
