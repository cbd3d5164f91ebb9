'use strict';
// What `require('debug')` gives the bundled MQTT.js and mqtt-packet (scripts/build.mjs).
// mqtt-packet calls its debug logger about ten times per packet, and the logger of the
// `debug` package gathers its arguments into an array before it looks whether it is on:
// 12 % of all the agent allocated at 1000 readings a second. A namespace DEBUG does not
// enable gets a logger that does nothing; one it enables gets the real logger, so
// DEBUG=mqtt-packet:* and DEBUG=mqttjs* still work.
const name = 'debug'; // a variable: the real package, from node_modules, never this file again
let real;
const load = () => (real ??= require(name));

function quiet() {}
quiet.enabled = false;
quiet.extend = () => quiet;

function createDebug(namespace) {
  return process.env.DEBUG && load().enabled(namespace) ? load()(namespace) : quiet;
}
createDebug.enabled = (namespace) => Boolean(process.env.DEBUG) && load().enabled(namespace);

module.exports = createDebug;
