import { existsSync } from 'node:fs';
import { join } from 'node:path';

// Which Wazuh installation gives the defaults. Wazuh 4.x managers and 4.x/5.x agents live in /var/ossec
// with etc/ossec.conf and the analysisd (or agentd) datagram queue; a Wazuh 5.x manager lives in
// /var/wazuh-manager with etc/wazuh-manager.conf and takes events only over HTTP, from its engine's
// socket. An agent and a manager may both be on one host: the agent's queue is then preferred, as
// Wazuh's own aws-s3 wodle (agent-only in 5.x) uses it.

export const OSSEC_HOME = '/var/ossec';
export const MANAGER_HOME = '/var/wazuh-manager';

/**
 * `ossec`: a home with etc/ossec.conf (4.x manager, 4.x/5.x agent); `manager`: a 5.x manager's home
 * with etc/wazuh-manager.conf; `none`: nothing found, the 4.x paths apply as they always did.
 */
export type InstallationKind = 'ossec' | 'manager' | 'none';

export interface Installation {
  home: string;
  kind: InstallationKind;
  /** Named by `--wazuh-home` rather than found. */
  named: boolean;
  /** Why this one, for the start line and --check-config. */
  why: string;
}

/** The paths an installation gives the collector and its commands (explicit flags win over each). */
export interface InstallationDefaults {
  config: string;
  state: string;
  /** What `--output` is when none is given. */
  output: 'wazuh' | 'wazuh-engine';
  /** The analysisd or agent queue (`wazuh`). */
  queue: string;
  /** The 5.x engine's HTTP socket (`wazuh-engine`). */
  engineSocket: string;
  /** Wazuh's aws-s3 wodle database (`import-wazuh`). */
  wazuhDb: string;
}

const OSSEC_CONF = 'etc/ossec.conf';
const MANAGER_CONF = 'etc/wazuh-manager.conf';
export const QUEUE_SOCKET = 'queue/sockets/queue';
export const ENGINE_SOCKET = 'queue/sockets/queue-http.sock';

/** What an /var/ossec home is, told by the daemons installed there. */
function ossecRole(home: string, at: (path: string) => string): string {
  if (existsSync(at(join(home, 'bin/wazuh-analysisd')))) return 'a Wazuh 4.x manager';
  if (existsSync(at(join(home, 'bin/wazuh-agentd')))) return 'a Wazuh agent';
  return 'a Wazuh 4.x manager or a 4.x/5.x agent';
}

function kindOf(home: string, at: (path: string) => string): InstallationKind {
  if (existsSync(at(join(home, OSSEC_CONF)))) return 'ossec';
  if (existsSync(at(join(home, MANAGER_CONF)))) return 'manager';
  return 'none';
}

/**
 * The installation `--wazuh-home` names, or the one found: /var/ossec when its etc/ossec.conf exists,
 * else /var/wazuh-manager when its etc/wazuh-manager.conf does. `root` is where the file system starts
 * (tests lay out installations in a temporary folder); paths in the answer are as the host sees them.
 */
export function findInstallation(explicitHome: string | null, root = '/'): Installation {
  const at = (path: string) => join(root, path);
  if (explicitHome !== null) {
    const kind = kindOf(explicitHome, at);
    const what = kind === 'ossec' ? `${ossecRole(explicitHome, at)} (${OSSEC_CONF})` : kind === 'manager' ? `a Wazuh 5.x manager (${MANAGER_CONF})` : `no ${OSSEC_CONF} or ${MANAGER_CONF} there`;
    return { home: explicitHome, kind, named: true, why: `--wazuh-home ${explicitHome}: ${what}` };
  }
  const managerToo = kindOf(MANAGER_HOME, at) === 'manager';
  if (kindOf(OSSEC_HOME, at) === 'ossec') {
    const beside = managerToo ? `; a Wazuh 5.x manager is installed too (${MANAGER_HOME}): --wazuh-home ${MANAGER_HOME} sends to its engine instead` : '';
    return { home: OSSEC_HOME, kind: 'ossec', named: false, why: `${join(OSSEC_HOME, OSSEC_CONF)} exists: ${ossecRole(OSSEC_HOME, at)}${beside}` };
  }
  if (managerToo) return { home: MANAGER_HOME, kind: 'manager', named: false, why: `${join(MANAGER_HOME, MANAGER_CONF)} exists (and no ${join(OSSEC_HOME, OSSEC_CONF)}): a Wazuh 5.x manager` };
  return { home: OSSEC_HOME, kind: 'none', named: false, why: `neither ${join(OSSEC_HOME, OSSEC_CONF)} nor ${join(MANAGER_HOME, MANAGER_CONF)} exists: the ${OSSEC_HOME} paths apply` };
}

export function installationDefaults(installation: Installation): InstallationDefaults {
  const { home, kind, named } = installation;
  const manager = kind === 'manager';
  // The engine is a 5.x manager's: its socket is under the home named, else under the manager's home.
  const engineHome = manager || (named && kind === 'none') ? home : MANAGER_HOME;
  return {
    config: join(home, manager ? MANAGER_CONF : OSSEC_CONF),
    state: join(home, 'var/guardduty-wodle/state.db'),
    output: manager ? 'wazuh-engine' : 'wazuh',
    queue: join(home, QUEUE_SOCKET),
    engineSocket: join(engineHome, ENGINE_SOCKET),
    wazuhDb: join(home, 'wodles/aws/s3_cloudtrail.db'),
  };
}
