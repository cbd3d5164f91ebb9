import assert from 'node:assert/strict';
import { test } from 'node:test';
import { locateStateDir } from '../../src/system/state-dir.js';

test('the state directory comes with the rule that chose it, for the log line', async () => {
  const home = '/home/pi';
  const none = '/nonexistent-parent/w1mqtt';
  assert.deepEqual(await locateStateDir({ configured: '/srv/w1', env: { STATE_DIRECTORY: '/x' } }), { dir: '/srv/w1', source: 'state_dir' });
  assert.deepEqual(await locateStateDir({ env: { STATE_DIRECTORY: '/var/lib/w1mqtt:/var/lib/o' } }), { dir: '/var/lib/w1mqtt', source: 'STATE_DIRECTORY' });
  assert.deepEqual(await locateStateDir({ env: { XDG_STATE_HOME: '/xdg' }, home, systemDir: none }), { dir: '/xdg/w1mqtt', source: 'XDG_STATE_HOME' });
  assert.deepEqual(await locateStateDir({ env: {}, home, systemDir: none }), { dir: '/home/pi/.local/state/w1mqtt', source: 'home' });
});
