// Wireshark's command-line dissector computing TCP conversations:
// `tshark -r FILE -q -z conv,tcp` (Debian package tshark).
import { probeOutput, which, type Peer } from "../measure.ts";

export const peer: Peer = {
  name: "tshark",
  label: "tshark -z conv,tcp",
  what: "full dissection of every packet, TCP conversation table",
  async probe() {
    if (!which("tshark")) return null;
    const v = await probeOutput("tshark", ["--version"]);
    return v?.split("\n").find((l) => l.startsWith("TShark"))?.trim() ?? "tshark";
  },
  command: (_ctx, file) => ({ cmd: "tshark", args: ["-r", file, "-q", "-z", "conv,tcp"] }),
};
