/* noop: a CNI plugin that does nothing, as fast as a process can. Driven
 * through cnitool, its latency is the libcni client's own overhead (Go
 * start-up, config loading, result cache), which every plugin pays on top of
 * its work. ADD prints an empty 1.0.0 Result; VERSION the supported versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char buf[65536];
  while (read(0, buf, sizeof buf) > 0) {
  }
  const char* cmd = getenv("CNI_COMMAND");
  if (cmd && strcmp(cmd, "VERSION") == 0)
    fputs("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]}", stdout);
  else if (cmd && strcmp(cmd, "ADD") == 0)
    fputs("{\"cniVersion\":\"1.0.0\"}", stdout);
  return 0;
}
