'use strict';
// `socks` for the bundled MQTT.js, loaded on first use (see mqtt-lazy-deps.cjs).
module.exports = { SocksClient: require('./mqtt-lazy-deps.cjs').SocksClient };
