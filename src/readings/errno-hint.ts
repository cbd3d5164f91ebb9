/** What the user can do about an errno from a 1-Wire file, for the fault's log line. */
export function errnoHint(errno: string): string | undefined {
  switch (errno) {
    case 'ENOTCONN':
      // A FUSE mount whose daemon died answers every access with ENOTCONN (platform-facts §0.9).
      return 'the OWFS mount is stale (owfs exited): restart owfs or remount it';
    case 'EACCES':
    case 'EPERM':
      return "permission denied: the agent's user may not read it (OWFS mounted without allow_other? file mode?)";
    case 'EIO':
      return 'bus I/O error: check wiring, the pull-up resistor and cable length';
    default:
      return undefined;
  }
}
