// `cat FILE > /dev/null`: the cost of reading the file from the page cache.
import { probeOutput, which, type Peer } from "../measure.ts";

export const peer: Peer = {
  name: "cat",
  label: "cat > /dev/null",
  what: "reads the file and discards it (the floor: I/O from the page cache)",
  async probe() {
    if (!which("cat")) return null;
    const v = await probeOutput("cat", ["--version"]);
    return v?.split("\n")[0]?.trim() || "cat";
  },
  command: (_ctx, file) => ({ cmd: "cat", args: [file] }),
};
