// Where a Wazuh manager keeps things; the collector and its subcommands share these defaults.
export const DEFAULT_CONFIG = '/var/ossec/etc/ossec.conf';
export const DEFAULT_STATE = '/var/ossec/var/guardduty-wodle/state.db';
