'use strict';
// What the bundled MQTT.js gets for three packages it loads whether or not they are used
// (scripts/build.mjs aliases them here): `ws` (only for ws:// and wss:// broker URLs),
// `socks` (only with a SOCKS proxy, which w1mqtt never sets) and `worker-timers` (only in
// a browser). MQTT.js requires all three on its first connect, so the bundle carried
// their code and the agent held it in memory: about 1 MB of heap on every Pi. Each one is
// now the real package, loaded from beside MQTT.js the first time it is really used.
const mqttName = 'mqtt'; // names in variables: the bundler must not inline these packages again
const load = (name) => require(require.resolve(name, { paths: [require.resolve(mqttName)] }));

function WebSocket(...args) {
  return new (load('ws'))(...args);
}
WebSocket.createWebSocketStream = (...args) => load('ws').createWebSocketStream(...args);

class SocksClient {
  constructor(...args) {
    return new (load('socks').SocksClient)(...args);
  }
}

const timers = {};
for (const fn of ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout']) timers[fn] = (...args) => load('worker-timers')[fn](...args);

module.exports = { WebSocket, SocksClient, timers };
