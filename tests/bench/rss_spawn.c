/* podnet-bench-rss PROGRAM [ARGS...]: runs PROGRAM (stdin, stdout, stderr and
 * environment inherited), then prints "podnet-bench-rss <peak RSS KiB>" on
 * stderr and exits with PROGRAM's status. A child's ru_maxrss includes the
 * pages it had before exec: forked from this small static parent, that is a
 * few pages, where a fork of the benchmark's own (large, multi-threaded)
 * process would count the benchmark's memory too. */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const pid_t pid = fork();
  if (pid < 0) return 126;
  if (pid == 0) {
    execv(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) return 126;
  fprintf(stderr, "podnet-bench-rss %ld\n", ru.ru_maxrss);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
