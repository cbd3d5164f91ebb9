import assert from 'node:assert/strict';
import { test } from 'node:test';
import { topicMatches } from '../../src/mqtt/topic-match.js';

test('topicMatches follows MQTT 3.1.1 section 4.7', { timeout: 5000 }, () => {
  const yes: [string, string][] = [
    ['home/#', 'home/kitchen/temperature'],
    ['home/#', 'home'], // MQTT-4.7.1-2: # matches the parent level too
    ['#', 'home/kitchen'],
    ['home/+/temperature', 'home/kitchen/temperature'],
    ['+/+', '/finance'],
    ['$SYS/#', '$SYS/broker/uptime'],
    ['home/kitchen', 'home/kitchen'],
  ];
  const no: [string, string][] = [
    ['home/+', 'home/kitchen/temperature'],
    ['home/+/temperature', 'home/temperature'],
    ['#', '$SYS/broker/uptime'], // MQTT-4.7.2-1
    ['+/broker/uptime', '$SYS/broker/uptime'],
    ['home/kitchen', 'home/kitchen/x'],
    ['home/kitchen/x', 'home/kitchen'],
  ];
  for (const [f, t] of yes) assert.equal(topicMatches(f, t), true, `${f} should match ${t}`);
  for (const [f, t] of no) assert.equal(topicMatches(f, t), false, `${f} should not match ${t}`);
});
