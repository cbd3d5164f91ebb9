'use strict';
// `ws` for the bundled MQTT.js, loaded on first use (see mqtt-lazy-deps.cjs).
module.exports = require('./mqtt-lazy-deps.cjs').WebSocket;
