import type { Agent } from '../agent/agent.js';
import { CONFIG_CANDIDATES, locateConfig } from '../config/locate.js';
import { ConfigWatcher } from '../config/watch.js';
import type { Logger } from '../log.js';
import type { ServiceNotifier } from '../system/service.js';
import { ConfigReloader } from './reload.js';

/**
 * `w1mqtt run`'s live reload: a watcher on sensors.yaml and SIGHUP (`systemctl
 * reload w1mqtt`) both re-read it. Running without a file, the candidate places
 * are watched and the first sensors.yaml to appear is loaded and then followed.
 * Returns the function that stops all of it.
 */
export async function followConfig(file: string | undefined, agent: Agent, log: Logger, service: ServiceNotifier | undefined): Promise<() => Promise<void>> {
  const reloadLog = log.child({ module: 'reload' });
  let watcher: ConfigWatcher | undefined;
  let reloader: ConfigReloader | undefined;
  let stopped = false;

  const follow = async (target: string): Promise<ConfigReloader> => {
    const current = new ConfigReloader({ file: target, agent, log: reloadLog, service });
    reloader = current;
    watcher = new ConfigWatcher({ files: [target], log: reloadLog, onChange: () => void current.request('file changed') });
    await watcher.start();
    return current;
  };
  /** No file yet: look again, and switch to the first one found. */
  const lookForFile = async (reason: string): Promise<void> => {
    const { file: found } = await locateConfig(undefined);
    if (found === undefined || stopped || reloader) {
      if (!reloader) reloadLog.info({ reason, candidates: CONFIG_CANDIDATES }, 'no sensors.yaml yet: still running on defaults');
      return;
    }
    await watcher?.stop();
    await (await follow(found)).request(`${found} appeared`);
  };

  // Before the watcher says it is watching: a SIGHUP without a handler terminates the process.
  const onHangup = (): void => {
    reloadLog.info('SIGHUP: reloading sensors.yaml; the bundled broker re-reads its password and ACL files');
    agent.reloadBrokerFiles();
    void (reloader ? reloader.request('SIGHUP') : lookForFile('SIGHUP'));
  };
  process.on('SIGHUP', onHangup);
  if (file !== undefined) {
    await follow(file);
  } else {
    watcher = new ConfigWatcher({ files: CONFIG_CANDIDATES, log: reloadLog, onChange: () => void lookForFile('file appeared') });
    await watcher.start();
  }
  return async () => {
    stopped = true;
    process.off('SIGHUP', onHangup);
    await watcher?.stop();
  };
}
