import type { Aedes } from 'aedes';

/**
 * Figures for $SYS that aedes keeps but does not type: its connected clients'
 * subscriptions and its retained store (aedes.js `clients`, aedes-persistence
 * `createRetainedStreamCombi`).
 */

/** Subscriptions of the clients connected now (mosquitto counts the same, plus offline persistent sessions). */
export function subscriptionCount(aedes: Aedes): number {
  const clients = (aedes as unknown as { clients: Record<string, { subscriptions: object }> }).clients;
  let n = 0;
  for (const id in clients) n += Object.keys(clients[id]?.subscriptions ?? {}).length;
  return n;
}

export async function retainedCount(aedes: Aedes): Promise<number> {
  const persistence = (aedes as unknown as { persistence: { createRetainedStreamCombi(patterns: string[]): AsyncIterable<{ topic: string }> } }).persistence;
  const topics = new Set<string>();
  for await (const packet of persistence.createRetainedStreamCombi(['#', '$SYS/#'])) topics.add(packet.topic);
  return topics.size;
}
