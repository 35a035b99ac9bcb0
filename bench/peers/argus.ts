// QoSient Argus, the classic flow-record generator: `argus -X -r FILE -w /dev/null`
// (Debian package argus-server). -X ignores /etc/argus.conf so a site
// configuration cannot add outputs or daemonize it.
import { probeOutput, which, type Peer } from "../measure.ts";

export const peer: Peer = {
  name: "argus",
  label: "argus -r",
  what: "bidirectional flow records (Argus format) to /dev/null",
  async probe() {
    if (!which("argus")) return null;
    const v = await probeOutput("argus", ["-h"]);
    return v?.split("\n").find((l) => /Argus Version/i.test(l))?.trim() ?? "argus";
  },
  command: (_ctx, file) => ({ cmd: "argus", args: ["-X", "-r", file, "-w", "/dev/null"] }),
};
