/*
 * procstat: the figures of the running process that Prometheus' client libraries export as
 * process_* (docs/http.md, metrics): CPU time from getrusage, resident and virtual memory from
 * /proc/self/statm, open file descriptors counted in /proc/self/fd and their limit from
 * getrlimit. Reading procfs lists a directory, so pw_procstat_read runs on the thread pool
 * (docs/architecture.md: nothing blocking on the loop); /metrics waits for it as /briefings/
 * waits for its files.
 */
#ifndef PW_PROCSTAT_H
#define PW_PROCSTAT_H

/* The figures; a field the system did not give is negative and left out of /metrics. */
struct pw_procstat {
  double cpu_seconds;    /* user + system time of every thread */
  double resident_bytes; /* resident set size */
  double virtual_bytes;  /* virtual memory size */
  double open_fds;       /* entries of /proc/self/fd */
  double max_fds;        /* the soft RLIMIT_NOFILE; negative when unlimited */
};

/* Fills OUT for the calling process. Any thread. */
void pw_procstat_read(struct pw_procstat *out);

#endif
