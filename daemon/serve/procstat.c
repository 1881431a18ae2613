/*
 * procstat: process_* figures for /metrics, read as Prometheus' client libraries read them on
 * Linux (getrusage, /proc/self/statm, /proc/self/fd, getrlimit).
 */
#include "procstat.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The sizes in pages of /proc/self/statm: total program size, then resident set. */
static void read_statm(struct pw_procstat *out) {
  char buf[256];
  long page = sysconf(_SC_PAGESIZE);
  unsigned long long size, resident;
  ssize_t n;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0 || page <= 0)
    return;
  buf[n] = '\0';
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
    return;
  out->virtual_bytes = (double)size * (double)page;
  out->resident_bytes = (double)resident * (double)page;
}

/* The entries of /proc/self/fd, less "." and "..", and less the descriptor the listing itself
 * holds open. */
static void count_fds(struct pw_procstat *out) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *de;
  long n = 0;

  if (d == NULL)
    return;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir(d);
  out->open_fds = (double)(n > 0 ? n - 1 : 0);
}

void pw_procstat_read(struct pw_procstat *out) {
  struct rusage ru;
  struct rlimit rl;

  out->cpu_seconds = out->resident_bytes = out->virtual_bytes = -1;
  out->open_fds = out->max_fds = -1;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    out->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
  read_statm(out);
  count_fds(out);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    out->max_fds = (double)rl.rlim_cur;
}
