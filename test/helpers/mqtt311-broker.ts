import { createServer, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * A broker that speaks MQTT 3.1.1 only, on 127.0.0.1:<random port>, like the older
 * brokers still found on home servers. Real mosquitto cannot be asked to refuse MQTT 5,
 * so this one is made to: a v5 CONNECT gets the 3.1.1 answer for an unknown level
 * (`connack`: CONNACK return code 1, then the connection is closed, MQTT-3.1.2-2) or
 * just a closed connection (`close`, as some brokers do). A 3.1.1 CONNECT is accepted;
 * QoS 1 PUBLISHes are acknowledged and kept. Packets are parsed with mqtt-packet, not
 * with the code under test.
 */

export type RefuseV5 = 'connack' | 'close';

export interface ReceivedPublish {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
}

export interface Mqtt311Broker {
  readonly port: number;
  readonly url: string;
  /** The protocol level of every CONNECT received, in order (5 for MQTT 5, 4 for 3.1.1). */
  readonly connects: number[];
  readonly publishes: ReceivedPublish[];
  /** Drop every open connection, as a broker restart would. */
  dropClients(): void;
  stop(): Promise<void>;
}

export async function startMqtt311Broker(refuseV5: RefuseV5 = 'connack'): Promise<Mqtt311Broker> {
  const connects: number[] = [];
  const publishes: ReceivedPublish[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // A fresh parser per connection: it adopts the level of the CONNECT it parses.
    const parser = mqttPacket.parser();
    const send = (packet: Packet) => {
      if (!socket.destroyed) socket.write(mqttPacket.generate(packet));
    };
    parser.on('error', () => socket.destroy());
    parser.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connect') {
        connects.push(packet.protocolVersion ?? 4);
        if (packet.protocolVersion === 5) {
          // Read whole, so the close is a FIN and not a reset with unread bytes.
          if (refuseV5 === 'connack') send({ cmd: 'connack', returnCode: 1, sessionPresent: false });
          socket.end();
          return;
        }
        send({ cmd: 'connack', returnCode: 0, sessionPresent: false });
      } else if (packet.cmd === 'publish') {
        publishes.push({ topic: packet.topic, payload: packet.payload.toString(), qos: packet.qos, retain: packet.retain });
        if (packet.qos === 1) send({ cmd: 'puback', messageId: packet.messageId ?? 0 });
      } else if (packet.cmd === 'subscribe') {
        send({ cmd: 'suback', messageId: packet.messageId ?? 0, granted: packet.subscriptions.map((s) => Math.min(s.qos, 1)) });
      } else if (packet.cmd === 'pingreq') {
        send({ cmd: 'pingresp' });
      } else if (packet.cmd === 'disconnect') {
        socket.end();
      }
    });
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('the 3.1.1 broker has no port');
  let stopping: Promise<void> | undefined;
  return {
    port: address.port,
    url: `mqtt://127.0.0.1:${address.port}`,
    connects,
    publishes,
    dropClients: () => {
      for (const socket of sockets) socket.destroy();
    },
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      })),
  };
}
